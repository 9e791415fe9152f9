"""Words and numbers the pages show: an effect named only when its interval allows it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("measure", "effect", "low", "high", "sentence"),
    [
        (
            "admissions_per_enrollment",
            -0.4,
            -0.6,
            -0.2,
            "fewer admissions than comparable members (-0.400 per enrollment, 95% CI -0.600 "
            "to -0.200)",
        ),
        (
            "admissions_per_enrollment",
            -0.4,
            -0.9,
            0.1,
            "no difference we can distinguish from zero (-0.400 per enrollment, 95% CI -0.900 "
            "to +0.100)",
        ),
        (
            "total_paid_per_enrollment",
            250.0,
            10.0,
            490.0,
            "higher total paid than comparable members (+$250.00 per enrollment, 95% CI "
            "+$10.00 to +$490.00)",
        ),
        (
            "share_with_admission",
            -0.05,
            -0.08,
            -0.02,
            "a smaller share with an admission than comparable members (-5.0 pts, 95% CI "
            "-8.0 pts to -2.0 pts)",
        ),
        (
            "ed_visits_per_enrollment",
            float("nan"),
            float("nan"),
            float("nan"),
            "no effect can be estimated (too few matched enrollments)",
        ),
    ],
)
def test_an_effect_is_named_only_when_its_interval_excludes_zero(
    measure: str, effect: float, low: float, high: float, sentence: str
) -> None:
    from dashboard.formatting import PREPOST_MEASURES, effect_sentence

    assert effect_sentence(PREPOST_MEASURES[measure], effect, low, high) == sentence
