"""The feed reader's handling of answers that are not a page of the feed."""

from __future__ import annotations

import httpx
import pytest

from tuopin_shared.kit.feed import RegistryUnavailable, fetch_page


async def test_an_answer_that_is_not_json_is_an_outage_not_a_crash() -> None:
    # What stands between the services (a proxy's error page sent with 200).
    def proxy_page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text="<html>gateway</html>", headers={"content-type": "text/html"}
        )

    transport = httpx.MockTransport(proxy_page)
    async with httpx.AsyncClient(transport=transport, base_url="http://registry.test") as client:
        with pytest.raises(RegistryUnavailable, match=r"no JSON \(text/html\)"):
            await fetch_page(client, "0", 10)
