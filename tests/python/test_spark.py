"""The release read by Apache Spark on a real standalone cluster: one master
and two workers on 127.0.0.1, started from pyspark's own $SPARK_HOME and torn
down when the module ends. Rows and types must be what pyarrow reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyspark import SparkConf, SparkContext
from pyspark.find_spark_home import _find_spark_home
from pyspark.java_gateway import launch_gateway
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DateType, DoubleType, LongType, StringType

pytestmark = pytest.mark.filterwarnings(
    # pyspark 4.3 warns that it does not "fully support" pandas 3; nothing here uses pandas.
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)

# Startup-heavy JVMs on a 2-core machine: C1 only and serial GC halve the time.
JAVA_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData"
STARTUP_TIMEOUT = 180  # seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, logs, timeout=STARTUP_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    tails = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"Spark: timed out waiting for {what}\n{tails}")


class Cluster:
    def __init__(self, session, master_state):
        self.session = session
        self.master_state = master_state


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A SparkSession connected to a standalone master with two workers."""
    tmp = tmp_path_factory.mktemp("spark")
    spark_home = _find_spark_home()
    spark_class = os.path.join(spark_home, "bin", "spark-class")
    (tmp / "conf").mkdir()  # empty conf dir: no stray spark-env.sh / defaults
    env = dict(
        os.environ,
        SPARK_HOME=spark_home,
        SPARK_CONF_DIR=str(tmp / "conf"),
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_LOCAL_DIRS=str(tmp),
        SPARK_DAEMON_MEMORY="256m",
        SPARK_DAEMON_JAVA_OPTS=JAVA_OPTS,
        SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false",
    )
    master_port, master_ui = free_port(), free_port()
    master_url = f"spark://127.0.0.1:{master_port}"
    procs: list[subprocess.Popen] = []
    logs = []
    gateway = None
    session = None
    saved_local_ip = os.environ.get("SPARK_LOCAL_IP")

    def daemon(name, *args):
        log = tmp / f"{name}.log"
        logs.append(log)
        with open(log, "wb") as out:
            # Own session: its pid is the process group of the JVM and of any
            # executor JVM a worker forks, so teardown can end exactly those.
            procs.append(subprocess.Popen(
                [spark_class, *args], env=env, cwd=tmp, stdout=out,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            ))

    def master_state() -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{master_ui}/json/", timeout=2) as r:
                return json.load(r)
        except OSError:
            return {}

    try:
        daemon("master", "org.apache.spark.deploy.master.Master",
               "--host", "127.0.0.1", "--port", str(master_port), "--webui-port", str(master_ui))

        # The driver JVM starts while the master boots.
        os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
        conf = (
            SparkConf()
            .setMaster(master_url)
            .setAppName("defections-release-test")
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.driver.host", "127.0.0.1")
            .set("spark.driver.bindAddress", "127.0.0.1")
            .set("spark.driver.memory", "512m")
            .set("spark.driver.extraJavaOptions", JAVA_OPTS)
            .set("spark.executor.memory", "512m")
            .set("spark.executor.cores", "1")
            .set("spark.executor.extraJavaOptions", JAVA_OPTS)
            .set("spark.cores.max", "2")
            .set("spark.sql.shuffle.partitions", "2")
            .set("spark.default.parallelism", "2")
            .set("spark.sql.adaptive.enabled", "false")
            .set("spark.local.dir", str(tmp))
            .set("spark.sql.warehouse.dir", (tmp / "warehouse").as_uri())
            .set("spark.sql.session.timeZone", "UTC")
        )
        gateway = launch_gateway(conf)

        # Workers only once the master is ALIVE: a worker that finds no master
        # backs off for 5-15 s before it tries again.
        wait_for("master", lambda: master_state().get("status") == "ALIVE", logs)
        for i in range(2):
            work_dir = tmp / f"worker{i}"
            work_dir.mkdir()
            daemon(f"worker{i}", "org.apache.spark.deploy.worker.Worker",
                   "--host", "127.0.0.1", "--port", str(free_port()),
                   "--webui-port", str(free_port()), "--cores", "1", "--memory", "1g",
                   "--work-dir", str(work_dir), master_url)
        wait_for("2 workers", lambda: master_state().get("aliveworkers") == 2, logs)

        sc = SparkContext(conf=conf, gateway=gateway)
        session = SparkSession(sc)
        # Driver + one executor on each worker.
        wait_for("2 executors",
                 lambda: sc._jsc.sc().getExecutorMemoryStatus().size() == 3, logs)
        yield Cluster(session, master_state)
    finally:
        if session is not None:
            session.stop()
        if gateway is not None:
            gateway.shutdown()
            gateway.proc.terminate()
            gateway.proc.wait(timeout=60)
            SparkContext._gateway = None
            SparkContext._jvm = None
        for proc in reversed(procs):  # workers first, then the master
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if saved_local_ip is None:
            os.environ.pop("SPARK_LOCAL_IP", None)
        else:
            os.environ["SPARK_LOCAL_IP"] = saved_local_ip


@pytest.fixture(scope="module")
def spark(cluster):
    return cluster.session


def uri(release, table) -> str:
    return (release / "tables" / f"{table}.parquet").resolve().as_uri()  # file:///...


def arrow_rows(release, table, cols=None) -> list[tuple]:
    t = pq.read_table(release / "tables" / f"{table}.parquet", columns=cols)
    return [tuple(r.values()) for r in t.to_pylist()]


def spark_rows(df) -> list[tuple]:
    return [tuple(r) for r in df.collect()]


def same_rows(a, b) -> bool:
    # repr sorts rows that hold None, dates and lists alike.
    return sorted(a, key=repr) == sorted(b, key=repr)


def spark_type_for(arrow_type):
    if arrow_type == pa.string():
        return StringType()
    if arrow_type == pa.date32():
        return DateType()
    if arrow_type == pa.int64():
        return LongType()
    if arrow_type == pa.float64():
        return DoubleType()
    if pa.types.is_list(arrow_type) and arrow_type.value_type == pa.string():
        return ArrayType(StringType())
    raise AssertionError(f"no Spark mapping for {arrow_type}")


SPARK_TYPES = {
    "string": StringType(),
    "date": DateType(),
    "int64": LongType(),
    "double": DoubleType(),
    "list_string": ArrayType(StringType()),
}


def test_spark_runs_on_the_standalone_cluster(cluster):
    sc = cluster.session.sparkContext
    assert sc.master.startswith("spark://127.0.0.1:")
    state = cluster.master_state()
    assert state["aliveworkers"] == 2
    assert [a["name"] for a in state["activeapps"]] == ["defections-release-test"]
    # One executor on each worker, each holding that worker's one core.
    assert sorted(w["coresused"] for w in state["workers"] if w["state"] == "ALIVE") == [1, 1]
    assert sc._jsc.sc().getExecutorIds().size() == 2


def test_spark_tables_match_pyarrow(spark, release, manifest, columns, table):
    df = spark.read.parquet(uri(release, table))
    arrow_schema = pq.read_schema(release / "tables" / f"{table}.parquet")
    assert df.columns == arrow_schema.names == [c.name for c in columns[table]]
    for col in columns[table]:
        field = df.schema[col.name]
        # ArrayType equality includes containsNull: Spark reads every Parquet
        # field and list element as nullable, so compare the element type only.
        if isinstance(field.dataType, ArrayType):
            got = ArrayType(field.dataType.elementType)
        else:
            got = field.dataType
        assert got == SPARK_TYPES[col.kind], (col.name, field.dataType)
        assert got == spark_type_for(arrow_schema.field(col.name).type), col.name
    rows = spark_rows(df)
    assert len(rows) == manifest["tables"][table]["rows"]
    assert same_rows(rows, arrow_rows(release, table))


def test_spark_join_matches_pyarrow(spark, release):
    d = spark.read.parquet(uri(release, "defections")).alias("d")
    e = spark.read.parquet(uri(release, "evidence")).alias("e")
    s = spark.read.parquet(uri(release, "sources")).alias("s")
    joined = (
        d.join(e, (F.col("e.record_table") == "defections")
               & (F.col("e.record_id") == F.col("d.defection_id")))
        .join(s, F.col("s.source_id") == F.col("e.source_id"))
        .select("d.defection_id", "d.date_start", "d.size_best", "d.source_ids",
                "e.evidence_id", "e.fields", "e.char_start", "e.exact",
                "s.source_id", "s.published_start", "s.relays")
    )
    types = {f.name: f.dataType for f in joined.schema.fields}
    assert types["date_start"] == DateType() and types["published_start"] == DateType()
    assert types["size_best"] == LongType() and types["char_start"] == LongType()
    for name in ("source_ids", "fields", "relays"):
        assert isinstance(types[name], ArrayType) and types[name].elementType == StringType()
    got = spark_rows(joined)

    # The same join over what pyarrow reads.
    def rows(table):
        return pq.read_table(release / "tables" / f"{table}.parquet").to_pylist()

    defections = {r["defection_id"]: r for r in rows("defections")}
    sources = {r["source_id"]: r for r in rows("sources")}
    want = []
    for ev in rows("evidence"):
        dfn = defections.get(ev["record_id"])
        src = sources.get(ev["source_id"])
        if ev["record_table"] == "defections" and dfn and src:
            want.append((dfn["defection_id"], dfn["date_start"], dfn["size_best"],
                         dfn["source_ids"], ev["evidence_id"], ev["fields"],
                         ev["char_start"], ev["exact"], src["source_id"],
                         src["published_start"], src["relays"]))
    assert want, "the join is empty"
    assert same_rows(got, want)
    assert {r[0] for r in got} == set(defections)  # every defection joins


@pytest.mark.parametrize("list_table,key,list_col", [
    ("defections", "defection_id", "source_ids"),
    ("evidence", "evidence_id", "fields"),
])
def test_spark_explode_matches_pyarrow(spark, release, list_table, key, list_col):
    table = list_table
    df = spark.read.parquet(uri(release, table))
    exploded = df.select(key, F.explode(list_col).alias("item"))
    assert exploded.schema["item"].dataType == StringType()
    got = spark_rows(exploded)

    t = pq.read_table(release / "tables" / f"{table}.parquet", columns=[key, list_col])
    parents = pc.list_parent_indices(t[list_col])
    want = list(zip(pc.take(t[key], parents).to_pylist(),
                    pc.list_flatten(t[list_col]).to_pylist()))
    assert want, f"{table}.{list_col} has no items"
    assert same_rows(got, want)
