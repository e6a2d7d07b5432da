# Ray's own autoscaler v2 scheduler on bench/planner.ts's scenario: the same node types, nodes and demand, timed the same way.
#
# Usage: python bench/ray-scheduler.py SCENARIO.json ROUNDS  (run by bench/planner.ts with the managed venv's python).
# Prints one JSON object: wall and CPU milliseconds per round, and what the last round launches and terminates.
import json
import sys
import time

from ray.autoscaler.v2.instance_manager.config import NodeTypeConfig
from ray.autoscaler.v2.scheduler import ResourceDemandScheduler, SchedulingRequest
from ray.autoscaler.v2.schema import AutoscalerInstance
from ray.core.generated.autoscaler_pb2 import NodeState, NodeStatus, ResourceRequest, ResourceRequestByCount
from ray.core.generated.instance_manager_pb2 import Instance


def node_type_configs(scenario):
    configs = {}
    for group in scenario["groups"]:
        resources = {"CPU": float(group["cpus"])}
        if group["gpus"] > 0:
            resources["GPU"] = float(group["gpus"])
        configs[group["name"]] = NodeTypeConfig(
            name=group["name"],
            min_worker_nodes=group["min"],
            max_worker_nodes=group["max"],
            resources=resources,
        )
    return configs


def instances(scenario):
    """Registered workers are RAY_RUNNING with their Ray node; launches in flight are ALLOCATED without one, as Ray's reconciler has them."""
    result = []
    for index, worker in enumerate(scenario["workers"]):
        if worker["phase"] == "launching":
            im = Instance(instance_id=f"im-{index}", cloud_instance_id=worker["name"], status=Instance.ALLOCATED, instance_type=worker["group"])
            result.append(AutoscalerInstance(cloud_instance_id=worker["name"], im_instance=im))
            continue
        node_id = index.to_bytes(28, "big")
        ray_node = NodeState(
            node_id=node_id,
            instance_id=worker["name"],
            ray_node_type_name=worker["group"],
            total_resources=worker["total"],
            available_resources=worker["available"],
            status=NodeStatus.IDLE if worker["idle"] else NodeStatus.RUNNING,
            idle_duration_ms=worker["idleMs"],
        )
        im = Instance(
            instance_id=f"im-{index}",
            cloud_instance_id=worker["name"],
            node_id=node_id.hex(),
            status=Instance.RAY_RUNNING,
            instance_type=worker["group"],
        )
        result.append(AutoscalerInstance(cloud_instance_id=worker["name"], ray_node=ray_node, im_instance=im))
    return result


def request(scenario):
    return SchedulingRequest(
        # The bench has no launch configs to compare: Ray must not count every node outdated.
        disable_launch_config_check=True,
        node_type_configs=node_type_configs(scenario),
        max_num_nodes=None,
        idle_timeout_s=scenario["idleTimeoutS"],
        resource_requests=[ResourceRequestByCount(request=ResourceRequest(resources_bundle=entry["shape"]), count=entry["count"]) for entry in scenario["shapes"]],
        current_instances=instances(scenario),
    )


def main():
    with open(sys.argv[1]) as file:
        scenario = json.load(file)
    rounds = int(sys.argv[2])
    wall, cpu = [], []
    reply = None
    for _ in range(rounds):
        req = request(scenario)
        started_wall, started_cpu = time.perf_counter(), time.process_time()
        reply = ResourceDemandScheduler().schedule(req)
        wall.append((time.perf_counter() - started_wall) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    launches = {}
    for launch in reply.to_launch:
        launches[launch.instance_type] = launches.get(launch.instance_type, 0) + launch.count
    json.dump(
        {
            "wallMs": wall,
            "cpuMs": cpu,
            "launches": launches,
            "terminations": len(reply.to_terminate),
            "idleTerminations": sum(1 for t in reply.to_terminate if t.cause == t.Cause.IDLE),
            "infeasible": len(reply.infeasible_resource_requests),
        },
        sys.stdout,
    )


main()
