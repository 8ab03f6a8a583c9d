"""Authentication as headless Chromium sees it, on uvicorn, granian RSGI and granian ASGI.

* Swagger UI (``/docs`` of ``tests/interop/apps/auth_app.py``): *Authorize* logs in through the
  OAuth2 password flow against the app's ``/token``, and *Try it out* on ``GET /me`` then
  succeeds with the token.
* The login form carries its CSRF token and logs in (server-side session); a page on another
  origin that posts a form to the app is refused, although the browser sends the cookie along
  (127.0.0.1 on another port is the same *site*, so ``SameSite=Lax`` does not stop it).
"""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.interop.test_cors_in_browser import browser, page_server  # noqa: F401 (fixture)
from tests.support import REPO_ROOT, SERVERS, ServerProcess, free_port, running, server_argv

pytestmark = [pytest.mark.browser, pytest.mark.interop, pytest.mark.slow]

WAIT_MS = 15_000
FOREIGN_PAGE = """<!doctype html><title>elsewhere</title>
<form id="f" method="post" action="{target}/notes">
<input name="note" value="forged"><input name="csrf_token" value="{token}"></form>
<script>document.getElementById("f").submit();</script>"""


@pytest.fixture(scope="module", params=SERVERS)
def api(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    port = free_port()
    argv = server_argv(request.param, "tests.interop.apps.auth_app:app", port)
    with running(argv, port=port, cwd=REPO_ROOT) as server:
        yield server


def test_swagger_ui_authorize_obtains_a_token_and_calls_a_protected_route(
    browser: Browser,  # noqa: F811
    api: ServerProcess,
) -> None:
    page = browser.new_context().new_page()
    try:
        page.goto(api.url + "/docs", timeout=WAIT_MS)
        page.locator("button.authorize").first.click(timeout=WAIT_MS)
        dialog = page.locator(".dialog-ux")
        password_flow = dialog.locator(".auth-container").filter(has_text="OAuth2PasswordBearer")
        password_flow.locator("#oauth_username").fill("ada")
        password_flow.locator("#oauth_password").fill("lovelace-pw")
        password_flow.locator(
            "label[for='items:read-password-checkbox-OAuth2PasswordBearer']"
        ).click()
        with page.expect_response(lambda r: r.url.endswith("/token")) as token_call:
            password_flow.locator("button.authorize").click()
        assert token_call.value.status == 200
        assert json.loads(token_call.value.text())["scope"] == "items:read"
        password_flow.get_by_text("Logout").wait_for(timeout=WAIT_MS)  # now authorized

        client_flow = dialog.locator(".auth-container").filter(has_text="OAuth2ClientCredentials")
        client_flow.locator("#client_id_clientCredentials").fill("robot")
        client_flow.locator("#client_secret_clientCredentials").fill("robot-secret")
        with page.expect_response(lambda r: r.url.endswith("/client-token")) as client_call:
            client_flow.locator("button.authorize").click()
        assert client_call.value.status == 200
        client_flow.get_by_text("Logout").wait_for(timeout=WAIT_MS)
        dialog.locator("button.close-modal").click()

        operation = page.locator("#operations-default-me")
        operation.locator(".opblock-summary").click()
        operation.get_by_role("button", name="Try it out").click()
        with page.expect_response(lambda r: r.url.endswith("/me")) as me_call:
            operation.get_by_role("button", name="Execute").click()
        assert me_call.value.status == 200
        assert me_call.value.request.headers["authorization"].startswith("Bearer ")
        assert json.loads(me_call.value.text()) == {"user": "ada", "scopes": ["items:read"]}

        robot = page.locator("#operations-default-robot")
        robot.locator(".opblock-summary").click()
        robot.get_by_role("button", name="Try it out").click()
        with page.expect_response(lambda r: r.url.endswith("/robot")) as robot_call:
            robot.get_by_role("button", name="Execute").click()
        assert (robot_call.value.status, robot_call.value.text()) == (200, "hello client:robot")
    finally:
        page.context.close()
    assert "Traceback" not in api.output()


def test_login_form_with_csrf_and_a_cross_site_form_is_refused(
    browser: Browser,  # noqa: F811
    api: ServerProcess,
    tmp_path: Path,
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(api.url + "/login", timeout=WAIT_MS)
        page.fill("#username", "ada")
        page.fill("#password", "lovelace-pw")
        page.click("#login")
        page.wait_for_url(api.url + "/account", timeout=WAIT_MS)
        assert json.loads(page.locator("body").inner_text()) == {"user": "ada"}

        page.goto(api.url + "/form", timeout=WAIT_MS)
        page.click("#send")
        page.wait_for_url(api.url + "/notes", timeout=WAIT_MS)
        saved = json.loads(page.locator("body").inner_text())
        assert saved["saved"] == "hello"

        # Another origin's page posts a form to the app, even with a real token of this
        # session (as if it had leaked): the Origin check refuses it.
        page.goto(api.url + "/csrf", timeout=WAIT_MS)
        leaked = json.loads(page.locator("body").inner_text())["token"]
        (tmp_path / "attack.html").write_text(FOREIGN_PAGE.format(target=api.url, token=leaked))
        with page_server(tmp_path) as foreign:
            with page.expect_response(lambda r: r.url == api.url + "/notes") as forged:
                page.goto(foreign.url + "/attack.html", timeout=WAIT_MS)
            assert forged.value.status == 403
            assert forged.value.request.all_headers().get("cookie", "").startswith("sid=")
            detail = json.loads(forged.value.text())["detail"]
            assert (
                detail
                == "Cross-site request refused: the Origin is not this site or a trusted origin"
            )
        page.goto(api.url + "/notes", timeout=WAIT_MS)
        assert "forged" not in page.locator("body").inner_text()
    finally:
        context.close()
