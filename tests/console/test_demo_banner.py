"""The demo banner's console URL and every login it prints lead into the console."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from sekisho.demo import DEMO_PASSWORD, banner, seed
from sekisho.simulator import SimulatorServer
from tests.support.gateway import gateway_settings, migrated, start_gateway


def test_every_banner_login_signs_in_to_the_console(
    simulator: SimulatorServer, tmp_path: Path, fast_password_hashing: None
) -> None:
    settings = gateway_settings(simulator.url, tmp_path)
    db = migrated(settings.database_url)
    key = seed(db, settings)
    gw = start_gateway(settings, db)
    try:
        port = int(gw.url.rsplit(":", 1)[1])
        text = banner(port, simulator.url, key, tmp_path)
        console = re.search(r"Operator console:\s+(\S+)", text)
        assert console is not None
        logins = re.findall(r"[\w.-]+@[\w.-]+\.example", text.split("Logins", 1)[1])
        assert len(logins) == 7 and DEMO_PASSWORD in text
        for email in logins:
            with httpx.Client(timeout=15, follow_redirects=True) as http:
                form = http.get(console.group(1))
                assert form.status_code == 200 and "Sign in" in form.text
                nonce = re.search(r'name="nonce" value="([^"]+)"', form.text)
                assert nonce is not None
                me = http.post(
                    str(form.url).split("?")[0],
                    data={"email": email, "password": DEMO_PASSWORD, "nonce": nonce.group(1)},
                )
                assert me.status_code == 200, (email, me.text[:300])
                assert f">{email}<" in http.get(gw.url + "/console/me").text
    finally:
        gw.stop()
        db.dispose()
