"""Reading the console's query strings and form bodies, with errors that name the field and the fix."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from model.labels import LABELS
from model.policy import HOLD, REJECT
from storage import QueueQuery

PAGE_SIZE = 50
MAX_SEARCH_CHARS = 200
MAX_FORM_FIELDS = 1000
# The queue's filters: what the page's links and the decision form's `back` may carry.
FILTERS = ("site", "label", "action", "since", "until", "q")
CURSORS = ("before", "after")


class FormError(ValueError):
    """A field that cannot be used; the message names it and says what is expected."""


def parse_body(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8; send it from the console's own page") from None
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, strict_parsing=False)
    except ValueError:
        raise FormError(f"the form has more than {MAX_FORM_FIELDS} fields; select fewer comments at a time") from None


@dataclass
class QueueFilters:
    values: dict[str, str] = field(default_factory=dict)  # as given (shown back in the form)
    query: QueueQuery = field(default_factory=QueueQuery)
    errors: list[str] = field(default_factory=list)

    def link(self, **cursor: int) -> str:
        """The queue's URL with these filters and a cursor."""
        params = {k: v for k, v in self.values.items() if v and k in FILTERS}
        params.update({k: str(v) for k, v in cursor.items()})
        return "/console/queue" + ("?" + urlencode(params) if params else "")

    def back(self) -> str:
        """The filters and cursor as a query string, for the decision form to come back to."""
        return urlencode({k: v for k, v in self.values.items() if v and k in FILTERS + CURSORS})


def queue_filters(params: list[tuple[str, str]], sites: frozenset[str] | None, retention_days: int) -> QueueFilters:
    """The queue page's filters from its query string. Unknown parameters are ignored (a link from an older
    version still opens); known ones that cannot be read become `errors`, and the page says which."""
    values = {k: v.strip() for k, v in params if k in FILTERS + CURSORS}
    errors: list[str] = []
    site = values.get("site") or None
    if site is not None and sites is not None and site not in sites:
        errors.append(f"site: this key may see {', '.join(sorted(sites))} only; pick one of those")
        site = None
    label = values.get("label") or None
    if label is not None and label not in LABELS:
        errors.append(f"label: expected one of {', '.join(LABELS)}; found {label!r}")
        label = None
    action = values.get("action") or None
    if action is not None and action not in (HOLD, REJECT):
        errors.append(f"action: expected hold or reject; found {action!r}")
        action = None
    since = _day(values, "since", errors)
    until = _day(values, "until", errors)
    # Past the retention period nothing is kept: the purge runs every few minutes, and this hides the rest.
    floor = datetime.now(UTC) - timedelta(days=retention_days)
    since = max(since, floor) if since is not None else floor
    search = values.get("q") or None
    if search is not None and len(search) > MAX_SEARCH_CHARS:
        errors.append(f"q: search for at most {MAX_SEARCH_CHARS} characters; found {len(search)}")
        search = None
    before, after = _cursor(values, "before", errors), _cursor(values, "after", errors)
    query = QueueQuery(
        sites=sites,
        site=site,
        label=label,
        action=action,
        since=since,
        until=until + timedelta(days=1) if until is not None else None,  # the whole day named
        search=search,
        before=before,
        after=None if before is not None else after,
        limit=PAGE_SIZE,
    )
    return QueueFilters(values, query, errors)


def _day(values: dict[str, str], name: str, errors: list[str]) -> datetime | None:
    raw = values.get(name)
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        errors.append(f"{name}: expected a date as YYYY-MM-DD; found {raw[:40]!r}")
        return None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _cursor(values: dict[str, str], name: str, errors: list[str]) -> int | None:
    raw = values.get(name)
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 19:
        errors.append(f"{name}: expected a page cursor (a whole number) from the page's own links; found {raw[:40]!r}")
        return None
    return int(raw)


def safe_back(raw: str) -> str:
    """The queue URL a decision returns to: only the queue's own filters, never another address."""
    params = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=False)[:20] if k in FILTERS + CURSORS]
    return "/console/queue" + ("?" + urlencode(params) if params else "")
