"""Behaviour every Store backend must have; test_storage.py (SQLite) and test_postgres.py (PostgreSQL)
subclass StoreContract and provide the `url` fixture: a fresh, empty database per test."""

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from storage import MODERATOR_POLICY, AuditEntry, FeedbackIn, QueuedIn, QueueQuery, Resolution, Store
from storage import store as store_module
from storage.engine import parse_url
from storage.migrate import head_revision
from storage.schema import metadata
from tests.conftest import ROOT

TABLES = {"articles", "feedback", "audit", "fingerprints", "health", "queue", "alembic_version"}


def audit_entry(comment_id: str, **overrides: object) -> AuditEntry:
    values: dict = {
        "comment_id": comment_id,
        "model_version": "20261128-120000",
        "scores": {"spam": 0.7, "toxic": 0.1, "substantive": 0.2},
        "label": "spam",
        "action": "approve",
        "decided_action": "hold",
        "policy_version": "default@3",
        "shadow": True,
        "reasons": [{"label": "spam", "score": 0.7, "threshold": 0.6}],
        "site_id": "site-a",
    }
    values.update(overrides)
    return AuditEntry(**values)


def queued(comment_id: str, **overrides: object) -> QueuedIn:
    values: dict = {
        "comment_id": comment_id,
        "site_id": "site-a",
        "text": f"text of {comment_id}",
        "label": "toxic",
        "flagged": "toxic",
        "action": "hold",
        "decided_action": "hold",
        "shadow": False,
        "scores": {"spam": 0.1, "toxic": 0.7, "substantive": 0.2},
        "reasons": ["toxic score 0.70 >= hold threshold 0.50"],
        "phrases": {"toxic": ["idiot"]},
        "model_version": "m1",
        "policy_version": "p1",
        "article_id": "a1",
        "article_title": "Title",
        "article_body": "Body",
    }
    values.update(overrides)
    return QueuedIn(**values)


def resolution(queued_id: int, comment_id: str, label: str, site_id: str = "site-a") -> Resolution:
    feedback = FeedbackIn(comment_id, f"text of {comment_id}", label, "mod-1", "a1", "Title", "Body", site_id)
    entry = audit_entry(
        comment_id, label=label, action="reject", decided_action="reject", shadow=False, site_id=site_id
    )
    return Resolution(queued_id, feedback, AuditEntry(**{**vars(entry), "policy_version": MODERATOR_POLICY}))


class StoreContract:
    @pytest.fixture()
    def url(self) -> str:  # overridden by each backend's test module
        raise NotImplementedError

    @pytest.fixture()
    def store(self, url: str):
        store = Store(url)
        yield store
        store.close()

    # Migrations

    def test_migrations_build_every_table_and_reach_head(self, url: str) -> None:
        Store(url).close()
        engine = create_engine(parse_url(url))
        try:
            with engine.connect() as conn:
                assert set(inspect(conn).get_table_names()) >= TABLES
                assert MigrationContext.configure(conn).get_current_revision() == head_revision()
        finally:
            engine.dispose()

    def test_migrated_schema_matches_the_tables_the_queries_use(self, url: str) -> None:
        # A column added to schema.py without a migration (or the reverse) shows up here as a diff.
        Store(url).close()
        engine = create_engine(parse_url(url))
        try:
            with engine.connect() as conn:
                context = MigrationContext.configure(conn, opts={"compare_type": True})
                assert compare_metadata(context, metadata) == []
        finally:
            engine.dispose()

    def test_restart_keeps_data_and_reapplies_nothing(self, url: str) -> None:
        first = Store(url)
        first.put_article("a1", "Title", "Body", "https://example.org/a1")
        first.close()
        second = Store(url)  # runs the migrations again: must be a no-op on a database at head
        assert second.get_article("a1") is not None
        second.close()

    def test_ping_reads_and_writes(self, store: Store) -> None:
        store.ping()
        store.ping()  # the second ping updates the row the first inserted

    # Articles

    def test_article_round_trip_and_replace(self, store: Store) -> None:
        before = datetime.now(UTC)
        store.put_article("a1", "Library closes Sundays", "The council voted...", "https://example.org/a1")
        got = store.get_article("a1")
        assert got is not None
        assert (got.id, got.title, got.body, got.url) == (
            "a1",
            "Library closes Sundays",
            "The council voted...",
            "https://example.org/a1",
        )
        assert got.updated_at.tzinfo is not None and got.updated_at >= before - timedelta(seconds=1)
        store.put_article("a1", "Library stays open", "Reversed.", "")
        again = store.get_article("a1")
        assert again is not None and (again.title, again.body, again.url) == ("Library stays open", "Reversed.", "")
        assert store.get_article("missing") is None

    def test_article_text_is_kept_exactly(self, store: Store) -> None:
        body = "Zürich ☕ — «quotes» \n\n" + "x" * 50_000
        store.put_article("u", "Ünïcode", body, "")
        got = store.get_article("u")
        assert got is not None and got.body == body

    # Feedback

    def test_feedback_round_trip(self, store: Store) -> None:
        first = store.add_feedback(
            FeedbackIn(
                comment_id="c1",
                text="Great post!!! visit my site",
                label="spam",
                moderator_id="mod-7",
                article_id="a1",
                article_title="Title",
                article_body="Body",
                site_id="site-a",
            )
        )
        second = store.add_feedback(FeedbackIn(comment_id="c2", text="You idiot", label="toxic", moderator_id="m"))
        assert second > first
        rows = list(store.iter_feedback())
        assert [r.id for r in rows] == [first, second]
        a, b = rows
        assert (a.comment_id, a.text, a.label, a.moderator_id, a.article_id, a.site_id) == (
            "c1",
            "Great post!!! visit my site",
            "spam",
            "mod-7",
            "a1",
            "site-a",
        )
        assert (a.article_title, a.article_body) == ("Title", "Body")
        assert b.article_id is None and b.site_id is None
        assert a.created_at.tzinfo is not None and abs(datetime.now(UTC) - a.created_at) < timedelta(minutes=1)

    def test_iter_feedback_pages_through_everything(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(store_module, "FEEDBACK_PAGE", 2)  # 5 rows: pages of 2, 2, 1
        ids = [store.add_feedback(FeedbackIn(f"c{i}", f"text {i}", "substantive", "m")) for i in range(5)]
        assert [r.id for r in store.iter_feedback()] == ids

    # Audit

    def test_audit_lists_entries_per_comment(self, store: Store) -> None:
        store.add_audit([audit_entry("c1"), audit_entry("c2", action="reject", decided_action="reject", shadow=False)])
        store.add_audit([audit_entry("c1", model_version="v2", text="the comment", reasons=[])])
        c1 = store.list_audit("c1")
        assert [e.model_version for e in c1] == ["20261128-120000", "v2"]
        assert c1[0].scores == {"spam": 0.7, "toxic": 0.1, "substantive": 0.2}
        assert c1[0].reasons == [{"label": "spam", "score": 0.7, "threshold": 0.6}]
        assert (c1[0].action, c1[0].decided_action, c1[0].shadow, c1[0].text) == ("approve", "hold", True, None)
        assert c1[1].text == "the comment"
        assert all(e.id is not None and e.created_at is not None for e in c1)
        c2 = store.list_audit("c2")
        assert [(e.action, e.shadow) for e in c2] == [("reject", False)]
        assert store.list_audit("nobody") == []

    def test_record_decisions_writes_audit_and_fingerprints_together(self, store: Store) -> None:
        store.record_decisions([audit_entry("c1"), audit_entry("c2")], "s1", [(5, "a1", "c1"), (6, "a1", "c2")])
        assert [e.comment_id for e in store.list_audit("c1") + store.list_audit("c2")] == ["c1", "c2"]
        assert sorted(store.recent_fingerprints("s1", 10)) == [(5, "a1"), (6, "a1")]
        store.record_decisions([audit_entry("c3")], "s1", [])  # a comment without a fingerprint
        assert len(store.list_audit("c3")) == 1

    def test_record_decisions_refuses_bad_input_whole(self, store: Store) -> None:
        with pytest.raises(ValueError, match="does not fit in 64 bits"):
            store.record_decisions([audit_entry("c1")], "s1", [(1 << 64, "a", "c1")])
        assert store.list_audit("c1") == []  # the audit entry did not go in without its fingerprint

    # Fingerprints

    def test_fingerprints_newest_first_per_site(self, store: Store) -> None:
        store.add_fingerprints("s1", [(1, "a1", "c1"), (2, "a2", "c2")])
        store.add_fingerprints("s1", [(3, "a3", None)])
        store.add_fingerprints("s2", [(9, "b1", "x")])
        assert store.recent_fingerprints("s1", 10) == [(3, "a3"), (2, "a2"), (1, "a1")]
        assert store.recent_fingerprints("s1", 2) == [(3, "a3"), (2, "a2")]
        assert store.recent_fingerprints("s2", 10) == [(9, "b1")]
        assert store.recent_fingerprints("nowhere", 10) == []

    def test_fingerprints_keep_all_64_bits(self, store: Store) -> None:
        values = [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1]
        store.add_fingerprints("s", [(v, f"a{i}", None) for i, v in enumerate(values)])
        store.add_fingerprints("s", [(-1, "signed", None)])  # a signed input comes back unsigned
        got = dict((a, fp) for fp, a in store.recent_fingerprints("s", 10))
        assert [got[f"a{i}"] for i in range(len(values))] == values
        assert got["signed"] == (1 << 64) - 1

    def test_fingerprint_out_of_range_is_refused(self, store: Store) -> None:
        with pytest.raises(ValueError, match="does not fit in 64 bits"):
            store.add_fingerprints("s", [(1 << 64, "a", None)])

    def test_fingerprints_survive_restart_and_prune_keeps_newest(self, url: str) -> None:
        store = Store(url)
        for i in range(6):
            store.add_fingerprints("s1", [(100 + i, f"a{i}", f"c{i}")])
        store.add_fingerprints("s2", [(7, "other", None)])
        store.close()

        reopened = Store(url)
        assert [fp for fp, _ in reopened.recent_fingerprints("s1", 100)] == [105, 104, 103, 102, 101, 100]
        reopened.prune_fingerprints("s1", keep=3)
        assert reopened.recent_fingerprints("s1", 100) == [(105, "a5"), (104, "a4"), (103, "a3")]
        assert reopened.recent_fingerprints("s2", 100) == [(7, "other")]  # another site is untouched
        reopened.prune_fingerprints("s1", keep=10)  # fewer than keep: nothing goes
        assert reopened.count_fingerprints("s1") == 3
        reopened.prune_fingerprints("s1", keep=0)
        assert reopened.count_fingerprints("s1") == 0
        reopened.close()

    def test_prune_within_one_batch_keeps_the_later_items(self, store: Store) -> None:
        # One call stamps one time; insertion order breaks the tie.
        store.add_fingerprints("s", [(1, "a", None), (2, "b", None), (3, "c", None)])
        store.prune_fingerprints("s", keep=2)
        assert store.recent_fingerprints("s", 10) == [(3, "c"), (2, "b")]

    # Concurrency

    def test_processes_starting_together_migrate_once(self, url: str) -> None:
        # Service workers start at once against a fresh database: one migrates, the rest wait and find head.
        start_at = time.time() + 1.5
        script = (
            "import sys, time\n"
            "from storage import Store\n"
            f"time.sleep(max(0, {start_at} - time.time()))\n"
            f"s = Store({url!r})\n"
            "s.ping()\n"
        )
        procs = [
            subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 4, "\n".join(errors)
        store = Store(url)
        store.put_article("a", "T", "B", "")
        store.close()

    def test_audit_accepts_numpy_scores(self, store: Store) -> None:
        import numpy as np

        store.add_audit([audit_entry("np", scores={"spam": np.float32(0.5), "toxic": np.float64(0.25)})])
        (entry,) = store.list_audit("np")
        assert entry.scores == {"spam": 0.5, "toxic": 0.25}

    def test_audit_refuses_what_json_cannot_hold(self, store: Store) -> None:
        with pytest.raises(ValueError, match="invalid value: .*not JSON serializable"):
            store.add_audit([audit_entry("bad", reasons=[object()])])
        assert store.list_audit("bad") == []

    def test_naive_time_is_refused_as_a_value_error(self, store: Store) -> None:
        with pytest.raises(ValueError, match="naive datetime"):
            store.add_feedback(FeedbackIn("c", "t", "spam", "m", created_at=datetime(2026, 1, 1)))

    def test_audit_refuses_nan_scores(self, store: Store) -> None:
        with pytest.raises(ValueError, match="invalid value"):
            store.add_audit([audit_entry("nan", scores={"spam": float("nan")})])

    # The moderator's queue (storage/queue.py)

    def test_queue_pages_newest_first_both_ways(self, store: Store) -> None:
        store.add_to_queue([queued(f"c{i}") for i in range(7)])
        first = store.list_queue(QueueQuery(limit=3))
        assert [q.comment_id for q in first.items] == ["c6", "c5", "c4"]
        assert first.newer is None and first.older is not None
        second = store.list_queue(QueueQuery(limit=3, before=first.older))
        assert [q.comment_id for q in second.items] == ["c3", "c2", "c1"]
        last = store.list_queue(QueueQuery(limit=3, before=second.older))
        assert [q.comment_id for q in last.items] == ["c0"] and last.older is None and last.newer is not None
        back = store.list_queue(QueueQuery(limit=3, after=last.newer))
        assert [q.comment_id for q in back.items] == ["c3", "c2", "c1"]
        top = store.list_queue(QueueQuery(limit=3, after=back.newer))
        assert [q.comment_id for q in top.items] == ["c6", "c5", "c4"] and top.newer is None
        item = first.items[0]
        assert (item.scores, item.reasons, item.phrases) == (
            {"spam": 0.1, "toxic": 0.7, "substantive": 0.2},
            ["toxic score 0.70 >= hold threshold 0.50"],
            {"toxic": ["idiot"]},
        )
        assert item.created_at is not None and item.created_at.tzinfo is not None

    def test_queue_filters(self, store: Store) -> None:
        store.add_to_queue(
            [
                queued("a", site_id="s1", text="Visit 50% OFF now"),
                queued("b", site_id="s2", flagged="spam", decided_action="reject", shadow=True),
                queued("c", site_id="s3", created_at=datetime.now(UTC) - timedelta(days=3)),
            ]
        )

        def ids(**kw: object) -> list[str]:
            return [q.comment_id for q in store.list_queue(QueueQuery(**kw)).items]  # type: ignore[arg-type]

        assert ids() == ["c", "b", "a"]
        assert ids(sites=frozenset({"s1", "s3"})) == ["c", "a"]
        assert ids(sites=frozenset({"s1"}), site="s2") == []  # a site outside the key's sites stays hidden
        assert ids(site="s2") == ["b"]
        assert ids(label="spam") == ["b"]
        assert ids(action="reject") == ["b"]
        assert ids(search="50% off") == ["a"]
        assert ids(search="%") == ["a"]  # a literal percent sign, not a wildcard
        assert ids(since=datetime.now(UTC) - timedelta(days=1)) == ["b", "a"]
        assert ids(until=datetime.now(UTC) - timedelta(days=1)) == ["c"]
        assert store.queue_sites(None) == ["s1", "s2", "s3"]
        assert store.queue_sites(frozenset({"s2", "nope"})) == ["s2"]
        assert store.count_queue(QueueQuery(sites=frozenset({"s1", "s2"}))) == 2

    def test_a_decision_writes_feedback_and_audit_and_deletes_the_text(self, store: Store) -> None:
        store.add_to_queue([queued("c1"), queued("c2"), queued("c1")])  # c1 sent twice
        target = store.list_queue(QueueQuery()).items[0]  # the newer copy of c1
        assert store.resolve_queued([resolution(target.id, "c1", "toxic")]) == [target.id]
        assert [q.comment_id for q in store.list_queue(QueueQuery()).items] == ["c2"]  # every copy of c1 went
        (row,) = list(store.iter_feedback())
        assert (row.comment_id, row.label, row.moderator_id, row.site_id, row.article_title) == (
            "c1",
            "toxic",
            "mod-1",
            "site-a",
            "Title",
        )
        (entry,) = store.list_audit("c1")
        assert (entry.policy_version, entry.label, entry.action) == (MODERATOR_POLICY, "toxic", "reject")
        # Decided again (a second moderator, a double click): nothing more is recorded.
        assert store.resolve_queued([resolution(target.id, "c1", "spam")]) == []
        assert len(list(store.iter_feedback())) == 1 and len(store.list_audit("c1")) == 1

    def test_purge_deletes_what_is_past_retention(self, store: Store) -> None:
        old = datetime.now(UTC) - timedelta(days=40)
        store.add_to_queue([queued("old", created_at=old), queued("new")])
        assert store.purge_queue(datetime.now(UTC) - timedelta(days=30)) == 1
        assert [q.comment_id for q in store.list_queue(QueueQuery()).items] == ["new"]

    def test_record_decisions_queues_with_the_audit(self, store: Store) -> None:
        store.record_decisions([audit_entry("c1")], "s", [], [queued("c1")])
        assert [q.comment_id for q in store.list_queue(QueueQuery()).items] == ["c1"]
        with pytest.raises(ValueError, match="invalid value"):
            store.record_decisions([audit_entry("c2")], "s", [], [queued("c2", scores={"spam": float("nan")})])
        assert store.list_audit("c2") == []  # neither went in

    def test_readout_counts_decisions_per_site_and_day(self, store: Store) -> None:
        day = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
        store.add_audit(
            [
                audit_entry("c1", site_id="s1", created_at=day),
                audit_entry("c2", site_id="s1", created_at=day),
                audit_entry("c3", site_id=None, created_at=day + timedelta(hours=1), shadow=False),
            ]
        )
        store.resolve_queued([])  # nothing to do is fine
        store.add_to_queue([queued("c1", site_id="s1")])
        (q,) = store.list_queue(QueueQuery()).items
        store.resolve_queued([resolution(q.id, "c1", "spam", site_id="s1")])
        since = day - timedelta(days=1)
        counts = sorted(store.decision_counts(since, None))
        assert counts == [("", "2026-12-02", "hold", "spam", False, 1), ("s1", "2026-12-01", "hold", "spam", True, 2)]
        assert store.decision_counts(since, frozenset({"s1"})) == [("s1", "2026-12-01", "hold", "spam", True, 2)]
        (decided,) = store.moderator_decisions(since, None, limit=10)
        assert (decided.comment_id, decided.label, decided.scores["spam"]) == ("c1", "spam", 0.7)
        assert store.moderator_decisions(since, frozenset({"other"}), limit=10) == []
