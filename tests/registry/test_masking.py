"""The SQL masks equal the Python masks of the contract."""

from __future__ import annotations

from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tuopin_registry import masking
from tuopin_shared.contracts.identity import make_resident_id, mask_resident_id
from tuopin_shared.contracts.masking import mask_certificate_number, mask_phone

resident_ids = st.builds(
    make_resident_id,
    st.sampled_from(["510303", "110105", "440300"]),
    st.dates(date(1900, 1, 1), date(2020, 12, 31)),
    st.integers(0, 999),
)
certificates = st.one_of(
    resident_ids.flatmap(
        lambda n: st.builds(lambda tail: n + tail, st.text("0123456789", max_size=4))
    ),
    st.text("0123456789X", max_size=17),
)
phones = st.text("0123456789+- ", max_size=30)


async def _sql(db: AsyncSession, expression: str, values: list[str]) -> list[str | None]:
    # ``expression`` is one of the masking module's own SQL snippets.
    query = (
        f"SELECT {expression}"  # noqa: S608
        " FROM unnest(CAST(:values AS text[])) WITH ORDINALITY AS t(v, i) ORDER BY i"
    )
    rows = await db.execute(text(query), {"values": values})
    return [row[0] for row in rows]


@settings(max_examples=5, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(resident_ids, min_size=1, max_size=200),
    certs=st.lists(certificates, min_size=1, max_size=200),
    numbers=st.lists(phones, min_size=1, max_size=200),
)
async def test_sql_masks_equal_python_masks(
    db: AsyncSession, ids: list[str], certs: list[str], numbers: list[str]
) -> None:
    assert await _sql(db, masking.mask_resident_id("v"), ids) == [mask_resident_id(v) for v in ids]
    assert await _sql(db, masking.mask_certificate_number("v"), certs) == [
        mask_certificate_number(v) for v in certs
    ]
    assert await _sql(db, masking.mask_phone("v"), numbers) == [mask_phone(v) for v in numbers]
