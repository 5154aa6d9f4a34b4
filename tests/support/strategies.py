"""Hypothesis strategies shared by the property tests (``tests/services/*/test_properties_*.py``
and ``tests/services/test_plan_saved.py``): what a file on disk or an answer over the wire may
hold.

Not a test module itself.
"""

from __future__ import annotations

from hypothesis import strategies as st

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any JSON value (NaN, infinities and integers past 2**64 included: Python's json module reads
them, and so may a file or an answer)."""
