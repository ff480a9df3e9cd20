"""What kind of news a story is: models, research, products, people, infrastructure, policy, deals.

A channel subscribes to the kinds it wants (a research channel, a leadership digest), so a
story's kind must be stable and explainable: it comes from readable rules over its articles,
never from a model. Each kind is a list of RE2 patterns in the ``[kinds]`` table of the config
file. An article scores, for each kind, the number of distinct patterns found in its title
(times ``title_weight``) plus those found in its lead (the first ``lead_words`` words); a
story adds up its articles' scores, so the kind the outlets agree on wins over one outlet's
angle. Ties go to the kind listed first; a story no pattern matches is ``fallback``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.stories.settings import KindSettings, compile_kind_pattern


@dataclass(frozen=True, slots=True)
class KindVerdict:
    """A story's kind and why: each kind's score, best first (for `explain`)."""

    name: str
    label: str
    scores: tuple[tuple[str, float], ...]

    def describe(self) -> str:
        shown = ", ".join(f"{name} {score:g}" for name, score in self.scores if score)
        return f"{self.label} ({shown})" if shown else f"{self.label} (no kind's words found)"


class KindRules:
    """The compiled [kinds] rules. Build once; classifying is a few RE2 searches per kind."""

    def __init__(self, settings: KindSettings | None = None) -> None:
        self.settings = settings or KindSettings.defaults()
        self._kinds = [
            (rule, [compile_kind_pattern(pattern) for pattern in rule.patterns])
            for rule in self.settings.kind
        ]
        self._labels = {rule.name: rule.label for rule in self.settings.kind}

    @property
    def names(self) -> list[str]:
        """Every kind's name, in priority order, then the fallback."""
        return [rule.name for rule, _ in self._kinds] + [self.settings.fallback]

    def label(self, name: str) -> str:
        return self._labels.get(name, name)

    def article_scores(self, title: str, text: str) -> dict[str, float]:
        """Each kind's score for one article: distinct patterns in title and lead."""
        lead = " ".join(text.split()[: self.settings.lead_words])
        weight = self.settings.title_weight
        return {
            rule.name: sum(
                weight * (pattern.search(title) is not None) + (pattern.search(lead) is not None)
                for pattern in patterns
            )
            for rule, patterns in self._kinds
        }

    def story_kind(self, articles: Iterable[tuple[str, str]]) -> KindVerdict:
        """The kind of a story from its articles' (title, text): the highest total score."""
        totals = {rule.name: 0.0 for rule, _ in self._kinds}
        for title, text in articles:
            for name, score in self.article_scores(title, text).items():
                totals[name] += score
        ranked = sorted(totals.items(), key=lambda item: -item[1])  # stable: ties keep order
        best, score = ranked[0]
        name = best if score > 0 else self.settings.fallback
        return KindVerdict(name, self.label(name), tuple(ranked))
