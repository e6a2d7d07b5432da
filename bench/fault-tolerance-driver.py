"""bench/fault-tolerance.ts's workload: 200 short one-CPU tasks, 50 actors made, called and killed, and one detached
named actor, so the GCS records tasks' functions, actors born and dead, and an actor that outlives its driver."""
import ray

ray.init()


@ray.remote(num_cpus=1)
def square(x):
    return x * x


@ray.remote
class Counter:
    def __init__(self):
        self.value = 0

    def add(self, n):
        self.value += n
        return self.value


assert sum(ray.get([square.remote(i) for i in range(200)])) == sum(i * i for i in range(200))
actors = [Counter.remote() for _ in range(50)]
assert ray.get([actor.add.remote(1) for actor in actors]) == [1] * 50
for actor in actors:
    ray.kill(actor)
counter = Counter.options(name="ft-bench-counter", lifetime="detached").remote()
print("RESULT", ray.get(counter.add.remote(1)))
