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

from storage import AuditEntry, FeedbackIn, Store
from storage import store as store_module
from storage.engine import parse_url
from storage.migrate import head_revision
from storage.schema import metadata
from tests.conftest import ROOT

TABLES = {"articles", "feedback", "audit", "fingerprints", "health", "alembic_version"}


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
