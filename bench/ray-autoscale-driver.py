# One workload of bench:autoscale as a Ray driver: tasks (and a placement group with one task per bundle) submitted at
# once, each holding its resources for the workload's seconds; prints when it submitted, when the last task started,
# when the placement group's last task started (the gang placed; null without one) and when all were done (epoch
# seconds, this machine's clock) as one JSON line after RESULT_MARKER (Ray prints its workers' deduplicated output on
# the same stdout).
import json
import sys
import time

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

RESULT_MARKER = "bench-autoscale-result: "
workload = json.loads(sys.argv[1])
seconds = workload["seconds"]
ray.init()


@ray.remote
def work(hold):
    started = time.time()
    time.sleep(hold)
    return started


def options_of(shape):
    extra = {name: amount for name, amount in shape.items() if name not in ("CPU", "GPU")}
    return {"num_cpus": shape.get("CPU", 0), "num_gpus": shape.get("GPU", 0), **({"resources": extra} if extra else {})}


submitted = time.time()
group = None
refs = []
gang_count = 0
if workload.get("placementGroup"):
    spec = workload["placementGroup"]
    group = placement_group(spec["bundles"], strategy=spec["strategy"])
    for index, bundle in enumerate(spec["bundles"]):
        strategy = PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=index)
        refs.append(work.options(**options_of(bundle), scheduling_strategy=strategy).remote(seconds))
    gang_count = len(refs)
for task in workload["tasks"]:
    refs.extend(work.options(**options_of(task["shape"])).remote(seconds) for _ in range(task["count"]))
starts = ray.get(refs)
done = time.time()
if group is not None:
    remove_placement_group(group)
gang_started = max(starts[:gang_count]) if gang_count > 0 else None
print(RESULT_MARKER + json.dumps({"submitted": submitted, "lastStarted": max(starts), "gangStarted": gang_started, "done": done}))
