"""Access tokens per secret, JS-SDK tickets, OAuth codes, welcome codes and media."""

from __future__ import annotations

from bot.sandbox.base import CorpBase
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import IssuedToken, OAuthCode, WelcomeCode

TOKEN_TTL = 7200
OAUTH_CODE_TTL = 300
WELCOME_CODE_TTL = 20  # send_welcome_msg only within 20 s of the event (REFERENCE §5)


class CredentialsMixin(CorpBase):
    def _init_credentials(self) -> None:
        self.tokens: dict[str, IssuedToken] = {}
        self.tickets: dict[str, tuple[str, float]] = {}  # ticket → (kind, expires_at)
        self.oauth_codes: dict[str, OAuthCode] = {}
        self.welcome_codes: dict[str, WelcomeCode] = {}
        self.console_welcome: set[str] = set()  # userids ("@all") with a console welcome
        self.other_app_welcomes = False
        self.media: dict[str, tuple[str, int]] = {}  # media_id → (type, size)
        self.mp_followers: set[str] = set()  # external_userids following the service account

    def issue_token(self, secret_kind: str) -> IssuedToken:
        token = IssuedToken(self.new_id("tk", 64), secret_kind, self.clock() + TOKEN_TTL)
        self.tokens[token.token] = token
        return token

    def check_token(self, token: str) -> IssuedToken:
        if not token:
            raise SandboxError(41001)
        issued = self.tokens.get(token)
        if issued is None:
            raise SandboxError(40014)
        if issued.expires_at <= self.clock():
            raise SandboxError(42001)
        return issued

    def expire_tokens(self) -> int:
        for issued in self.tokens.values():
            issued.expires_at = min(issued.expires_at, self.clock() - 1)
        return len(self.tokens)

    def issue_ticket(self, kind: str) -> str:
        ticket = self.new_id(f"{kind}_", 48)
        self.tickets[ticket] = (kind, self.clock() + TOKEN_TTL)
        return ticket

    def issue_oauth_code(self, *, userid: str = "", external_userid: str = "") -> str:
        if userid:
            self.get_staff(userid)
        openid = ""
        if external_userid:
            customer = self.customers.get(external_userid)
            if customer is None:
                raise SandboxError(40096, external_userid)
            openid = "o" + external_userid[2:]
        code = self.new_id("code", 28)
        expires = self.clock() + OAUTH_CODE_TTL
        self.oauth_codes[code] = OAuthCode(code, expires, userid, external_userid, openid)
        return code

    def use_oauth_code(self, code: str) -> OAuthCode:
        issued = self.oauth_codes.get(code)
        if issued is None or issued.used or issued.expires_at <= self.clock():
            raise SandboxError(40029)
        issued.used = True
        return issued

    def issue_welcome_code(self, userid: str, external_userid: str) -> str | None:
        """None when the member has a welcome configured in the admin console (W6: WeCom then
        sends that one and no WelcomeCode). With `other_app_welcomes` another app that got
        the same callback uses the code first, so ours gets 41051."""
        if userid in self.console_welcome or "@all" in self.console_welcome:
            return None
        code = self.new_id("wc", 40)
        expires = self.clock() + WELCOME_CODE_TTL
        self.welcome_codes[code] = WelcomeCode(code, userid, external_userid, expires)
        if self.other_app_welcomes:
            self.welcome_codes[code].used = True
        return code

    def use_welcome_code(self, code: str) -> WelcomeCode:
        issued = self.welcome_codes.get(code)
        if issued is None or issued.used or issued.expires_at <= self.clock():
            raise SandboxError(41051, "welcome_code unknown, already used or older than 20 s")
        issued.used = True
        return issued

    def store_media(self, media_type: str, size: int) -> str:
        media_id = self.new_id("3", 60)
        self.media[media_id] = (media_type, size)
        return media_id
