"""FairGate: at most `size` holders, freed places go to the longest waiter, cancellation loses no place."""

from __future__ import annotations

import asyncio

from localbase.database.gate import FairGate


async def test_first_come_first_served_and_bounded():
    gate = FairGate(2)
    order: list[int] = []
    inside = 0
    peak = 0

    async def worker(i: int) -> None:
        nonlocal inside, peak
        async with gate:
            inside += 1
            peak = max(peak, inside)
            order.append(i)
            await asyncio.sleep(0.005)
            inside -= 1

    tasks = []
    for i in range(10):
        tasks.append(asyncio.create_task(worker(i)))
        await asyncio.sleep(0)  # arrive in order
    await asyncio.gather(*tasks)
    assert order == list(range(10))
    assert peak == 2


async def test_a_cancelled_waiter_gives_its_place_on():
    gate = FairGate(1)
    await gate.__aenter__()
    waiting = asyncio.create_task(gate.__aenter__())
    after = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()
    await gate.__aexit__(None, None, None)
    await asyncio.wait_for(after, 1)  # the place went past the cancelled waiter
    assert waiting.cancelled()
    await gate.__aexit__(None, None, None)
    async with gate:  # and the gate is whole again
        pass


async def test_a_waiter_gives_up_after_the_timeout_and_the_queue_goes_on():
    import pytest

    from localbase.database.gate import GateTimeout
    gate = FairGate(1, timeout=0.05)
    await gate.__aenter__()
    with pytest.raises(GateTimeout):
        await gate.__aenter__()
    later = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0)
    await gate.__aexit__(None, None, None)
    await asyncio.wait_for(later, 1)  # the expired waiter left the queue: the place goes on
    await gate.__aexit__(None, None, None)
    async with gate:  # and the gate is whole again
        pass
