"""A Ray job that spreads a little work over the cluster and says where it ran. Submit it as it is:

    rayfleet job submit --working-dir examples/jobs -- python hello_job.py
    rayfleet run --working-dir examples/jobs -- python hello_job.py      # on a cluster of its own, gone afterwards
"""
import os
import socket
import time

import ray

# The job's driver joins the cluster it was submitted to; no address needed.
ray.init()


@ray.remote(num_cpus=0.5)
def square(x: int) -> tuple[int, str]:
    time.sleep(0.2)
    return x * x, os.environ.get("RAY_CLOUD_INSTANCE_ID", socket.gethostname())


results = ray.get([square.remote(i) for i in range(20)])
print("sum of squares of 0..19:", sum(value for value, _ in results))
print("ran on:", ", ".join(sorted({node for _, node in results})))
print("working dir files:", ", ".join(sorted(os.listdir("."))))
