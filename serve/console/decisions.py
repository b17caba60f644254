"""What a moderator's choice in the console records: a feedback row (the label the next
`training.fit --feedback` learns) and an audit entry, both built from the queued comment."""

from dataclasses import dataclass

from model.labels import SPAM, SUBSTANTIVE, TOXIC
from model.policy import APPROVE, REJECT
from storage import MODERATOR_POLICY, AuditEntry, FeedbackIn, Queued, Resolution


@dataclass(frozen=True)
class Choice:
    key: str  # the keyboard shortcut
    action: str  # what the comment's fate is: approve or reject
    label: str | None  # the label recorded; None: the label the model flagged (a plain "reject" confirms it)
    verb: str  # for messages: "3 comments rejected"


# approve and "substantive" record the same thing: a comment worth publishing is substantive by definition.
CHOICES: dict[str, Choice] = {
    "approve": Choice("a", APPROVE, SUBSTANTIVE, "approved"),
    "reject": Choice("r", REJECT, None, "rejected"),
    SPAM: Choice("s", REJECT, SPAM, "rejected as spam"),
    TOXIC: Choice("t", REJECT, TOXIC, "rejected as toxic"),
    SUBSTANTIVE: Choice("n", APPROVE, SUBSTANTIVE, "approved as substantive"),
}


def resolution(item: Queued, choice_name: str, moderator: str, keep_text: bool) -> Resolution:
    """The records of `moderator` choosing `choice_name` for `item`. keep_text: the audit keeps the text
    (the `store_text` setting), as the service's own entries do."""
    choice = CHOICES[choice_name]
    label = choice.label or (item.flagged if item.flagged != SUBSTANTIVE else SPAM)
    site = item.site_id or None
    model_said = f"the model decided {item.decided_action} ({item.flagged}) under policy {item.policy_version}"
    feedback = FeedbackIn(
        comment_id=item.comment_id,
        text=item.text,
        label=label,
        moderator_id=moderator,
        article_id=item.article_id,
        article_title=item.article_title,
        article_body=item.article_body,
        site_id=site,
    )
    audit = AuditEntry(
        comment_id=item.comment_id,
        model_version=item.model_version,
        scores=item.scores,
        label=label,
        action=choice.action,
        decided_action=choice.action,
        policy_version=MODERATOR_POLICY,
        shadow=False,
        reasons=[
            f"moderator {moderator} chose {choice_name} ({label}) in the console",
            model_said + (" in shadow mode" if item.shadow else ""),
        ],
        site_id=site,
        text=item.text if keep_text else None,
    )
    return Resolution(item.id, feedback, audit)
