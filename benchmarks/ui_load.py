"""Load test of the raters' HTTP API: concurrent simulated raters against `arena ui` on 127.0.0.1.

    .venv/bin/python benchmarks/ui_load.py                      # 50 raters x 20 votes, SQLite
    .venv/bin/python benchmarks/ui_load.py --store postgresql://...  --servers 2
    .venv/bin/python benchmarks/ui_load.py --think 1    # raters pause ~1 s before each vote

Each rater signs in, then repeats "next battle, vote" over HTTP. Afterwards the store must hold
exactly one Vote and one Battle per acknowledged vote (0 lost, 0 duplicated). Prints p50/p99
latency of the vote call and votes per second.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arena.core.records import Answer, Battle, Question, Vote, write_jsonl  # noqa: E402
from arena.core.store import Store  # noqa: E402
from arena.service import hash_password  # noqa: E402

MODELS = ["m1", "m2", "m3", "m4"]
TAG = f"load-{uuid.uuid4().hex[:8]}"  # this run's question set: a reused store is fine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(workdir: Path, store_url: str, n_raters: int) -> tuple[Path, Path]:
    """Questions file, answers in the store, users file with one account per rater."""
    qs = [Question(question_set=TAG, id=f"{TAG}-q{i}", turns=[f"Question {i}?"]) for i in range(12)]
    write_jsonl(workdir / f"{TAG}.jsonl", qs)
    store = Store(store_url)
    store.put_many(
        Answer(model=m, question_set=TAG, question_id=q.id, turns=[f"{m} says {q.id} " * 20])
        for m in MODELS
        for q in qs
    )
    store.close()
    h = hash_password("pw")  # one hash for all: scrypt per user would only slow the set-up
    users = workdir / "users.txt"
    users.write_text("".join(f"r{i} rater {h}\n" for i in range(n_raters)), encoding="utf-8")
    return workdir / f"{TAG}.jsonl", users


def start(
    qfile: Path, users: Path, store_url: str, port: int, log: Path, spy: str | None = None
) -> subprocess.Popen:
    arena = str(Path(sys.executable).parent / "arena")
    # under py-spy: sampled from its start (attaching later has killed the server here)
    prefix = (
        [
            spy,
            "record",
            "-o",
            str(log.with_suffix(".prof.txt")),
            "--format",
            "raw",
            "--threads",
            "--",
        ]
        if spy
        else []
    )
    cmd = [
        *prefix,
        arena,
        "ui",
        "--questions",
        str(qfile),
        "--models",
        *MODELS,
        "--answers",
        store_url,
        "--store",
        store_url,
        "--users",
        str(users),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    return subprocess.Popen(
        cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def wait_up(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


class Client:
    """One rater's HTTP session: aiohttp (light, the default) or httpx, one connection each."""

    def __init__(self, base_url: str, kind: str) -> None:
        self.base_url, self.kind = base_url, kind
        if kind == "httpx":
            self._c = httpx.AsyncClient(base_url=base_url, timeout=60)
        else:
            import aiohttp

            self._c = aiohttp.ClientSession(
                base_url=base_url,
                cookie_jar=aiohttp.CookieJar(unsafe=True),  # the session cookie of 127.0.0.1
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=1),
            )

    async def post(self, path: str, body: dict | None = None) -> tuple[int, dict]:
        if self.kind == "httpx":
            r = await self._c.post(path, json=body)
            return r.status_code, r.json()
        async with self._c.post(path, json=body) as r:
            return r.status, await r.json()

    async def close(self) -> None:
        await (self._c.aclose() if self.kind == "httpx" else self._c.close())


async def rater(
    c: Client,
    n_votes: int,
    think: float,
    lat: list[float],
    acked: list[str],
    next_lat: list[float],
) -> None:
    """One rater: next battle, read for ~`think` s (0: a stress test), vote, repeat."""
    rng = random.Random(str(c.base_url) + str(id(c)))
    for i in range(n_votes):
        t0 = time.perf_counter()
        status, battle = await c.post("/api/battle/next")
        next_lat.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"next battle: HTTP {status} {battle}")
        bid = battle["battle_id"]
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))
        t0 = time.perf_counter()
        status, body = await c.post(f"/api/battle/{bid}/vote", {"winner": ["A", "B", "tie"][i % 3]})
        lat.append(time.perf_counter() - t0)
        if status != 200:
            raise SystemExit(f"vote: HTTP {status} {body}")
        acked.append(bid)


async def run_raters(
    urls: list[str],
    n_raters: int,
    n_votes: int,
    think: float = 0.0,
    client: str = "aiohttp",
    on_start=lambda: None,
) -> tuple[list, list, float, list]:
    """Sign everyone in (not timed: scrypt is slow on purpose), then vote concurrently."""
    clients = [Client(urls[i % len(urls)], client) for i in range(n_raters)]
    logins = [
        c.post("/api/login", {"username": f"r{i}", "password": "pw"}) for i, c in enumerate(clients)
    ]
    for status, body in await asyncio.gather(*logins):
        if status != 200:
            raise SystemExit(f"login: HTTP {status} {body}")
    lat: list[float] = []
    acked: list[str] = []
    next_lat: list[float] = []
    gc.collect()
    gc.freeze()  # the client's own collector pauses would count as server latency
    on_start()  # after the sign-ins: their scrypt is not what is measured
    t0 = time.perf_counter()
    await asyncio.gather(*(rater(c, n_votes, think, lat, acked, next_lat) for c in clients))
    wall = time.perf_counter() - t0
    for c in clients:
        await c.close()
    return lat, acked, wall, next_lat


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its children (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--votes", type=int, default=20)
    ap.add_argument("--store", default=None, help="store URL (default: a fresh SQLite file)")
    ap.add_argument("--servers", type=int, default=1, help="arena ui processes on one store")
    ap.add_argument("--think", type=float, default=0.0, help="mean reading pause before a vote (s)")
    ap.add_argument("--profile", default=None, help="path of py-spy: run the server under it")
    ap.add_argument(
        "--client",
        choices=["aiohttp", "httpx"],
        default="aiohttp",
        help="HTTP client of the simulated raters (aiohttp on uvloop needs less of the CPU)",
    )
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="arena-ui-load-"))
    store_url = args.store or str(work / "arena.sqlite")
    qfile, users = prepare(work, store_url, args.raters)
    procs, urls = [], []
    try:
        for _ in range(args.servers):
            port = free_port()
            procs.append(start(qfile, users, store_url, port, work / "server.log", args.profile))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs):
            wait_up(url, proc)
        mark: dict = {}

        def on_start() -> None:  # start-up and sign-ins (scrypt) not counted
            mark["cpu"] = sum(cpu_seconds(p.pid) for p in procs)
            mark["load"] = os.getloadavg()[0]
            mark["client"] = time.process_time()

        run = run_raters(urls, args.raters, args.votes, args.think, args.client, on_start)
        if args.client == "aiohttp":
            import uvloop

            lat, acked, wall, next_lat = uvloop.run(run)
        else:
            lat, acked, wall, next_lat = asyncio.run(run)
        cpu = sum(cpu_seconds(p.pid) for p in procs) - mark["cpu"]
        client_cpu = time.process_time() - mark["client"]
        load0 = mark["load"]
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGINT if args.profile else signal.SIGTERM)
            p.wait(60)
        if args.profile:
            print(f"profile (py-spy raw): {work / 'server.prof.txt'}")
    store = Store(store_url)
    votes = [v.battle_id for v in store.all(Vote) if v.question_set == TAG]
    refs = [
        b.ref for b in store.all(Battle) if b.source == "human" and b.question_id.startswith(TAG)
    ]
    lost = len(set(acked) - set(votes)) + len(set(acked) - set(refs))
    dup = (
        (len(votes) - len(set(votes))) + (len(refs) - len(set(refs))) + len(set(votes) - set(acked))
    )
    q = statistics.quantiles(lat, n=100, method="inclusive")
    qn = statistics.quantiles(next_lat, n=100, method="inclusive")
    print(
        f"store: {store!r}, servers: {args.servers}, think time: {args.think} s, "
        f"client: {args.client}"
    )
    print(
        f"raters: {args.raters}, acknowledged votes: {len(acked)}, stored votes: {len(votes)}, "
        f"battles: {len(refs)}"
    )
    print(f"lost: {lost}, duplicated: {dup}")
    print(
        f"vote latency p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms"
    )
    print(f"next-battle latency p50 {qn[49] * 1000:.1f} ms, p99 {qn[98] * 1000:.1f} ms")
    print(
        f"throughput: {len(acked) / wall:.1f} votes/s (wall {wall:.1f} s incl. next-battle calls)"
    )
    calls = 2 * len(acked)
    print(
        f"server CPU {cpu:.1f} s = {cpu / calls * 1000:.1f} ms per API call (client "
        f"{client_cpu / calls * 1000:.1f} ms); load average {load0:.1f} before, "
        f"{os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores"
    )
    if lost or dup or len(acked) != args.raters * args.votes:
        raise SystemExit("FAILED: lost or duplicated votes")


if __name__ == "__main__":
    main()
