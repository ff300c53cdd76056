"""Two-factor sign-in pages: setting it up (Settings > Account), turning it off, new
recovery codes, and the second step of signing in, where the code is given."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from relay.accounts import pending_sign_ins, totp, two_factor
from relay.accounts import sign_in as signin
from relay.accounts.events import as_user
from relay.accounts.sealing import AccountKeys, SecretKeyMissing, account_keys
from relay.actors import Actor
from relay.audit.actions import Action
from relay.dashboard.account_pages import HOME
from relay.dashboard.account_settings_pages import ACCOUNT, account_page, reauthenticate
from relay.dashboard.form_errors import error_for
from relay.dashboard.permissions import needs, signed_out
from relay.dashboard.web import (
    PENDING_SIGN_IN_COOKIE,
    CheckedForm,
    CurrentSignIn,
    SignedInBeforeTwoFactor,
    anonymous_actor,
    cookie_name,
    dashboard_attempt,
    delete_cookie,
    device_claim,
    field,
    redirect,
    remember_device,
    render,
    sessions_signed_out,
    settings_of,
    start_signed_in,
    user_actor,
    with_security_notice,
)
from relay.db import Database, ReadSessionDep, SessionDep, read_session
from relay.errors import RelayError
from relay.tenants import roles
from relay.tenants.models import User

router = APIRouter(include_in_schema=False)

SETUP = "/settings/account/two-factor"
SIGN_IN_TIMED_OUT = "Your sign-in timed out. Enter your email and password again."


def _keys(request: Request) -> AccountKeys:
    return account_keys(settings_of(request))


async def _keys_after_password(
    request: Request, session: SessionDep, user: User, form: FormData, *, error_id: str
) -> AccountKeys:
    """The keys, once the form's password proves the user is at the keyboard (a stolen
    session alone cannot change their second factor)."""
    keys = _keys(request)
    await reauthenticate(request, session, user, field(form, "password"), field=error_id)
    return keys


async def _second_factor_again(
    request: Request, user: User, keys: AccountKeys, form: FormData
) -> two_factor.SecondFactorProof:
    """The proof of the signed-in user's second factor, asked again (after the password)
    before a change to it: the form's code is spent as at sign-in, and a wrong one is a
    failed sign-in, with the same limits and audit event, so a stolen session and
    password cannot guess codes any faster than at the sign-in page."""
    code = field(form, "code")
    if not code.strip():  # nothing to check: not an attempt
        raise RelayError(two_factor.ENTER_CODE, field="code")
    try:
        return await _checked_code(request, user, keys, code, factor="two-factor code, asked again")
    except signin.SignInRefused as exc:
        raise RelayError(two_factor.CODE_REFUSED, field="code") from exc
    except RelayError as exc:
        exc.field = "code"
        raise


async def _checked_code(
    request: Request, user: User, keys: AccountKeys, code: str, *, factor: str
) -> two_factor.SecondFactorProof:
    """The proof of `user`'s second factor from `code`, checked as a sign-in attempt
    (the same limits, the day's bound on codes, the browser's device cookie counted);
    SignInRefused or TooManyFailures otherwise. `factor` says where, in the audit log."""
    database: Database = request.app.state.db
    client = anonymous_actor(request)
    proofs: list[two_factor.SecondFactorProof] = []
    await signin.checked_sign_in(
        database,
        email=user.email,
        client=client,
        device=device_claim(request),
        backoff_max=settings_of(request).signin_backoff_max,
        check=_code_check(database, keys, user, code, client, proofs),
        refusal=two_factor.CODE_REFUSED,
        details={"factor": factor},
        # An authenticator's code, bounded per day; not a recovery code's 50 bits.
        second_factor=totp.looks_like_code("".join(code.split())),
    )
    return proofs[0]


def _setup_page(
    request: Request,
    signed_user: User,
    *,
    required: bool,
    sealed: str | None = None,
    refused: RelayError | None = None,
    error_id: str = "code",
) -> HTMLResponse:
    """The set-up page: a QR code to scan, the password and the code to confirm (with
    the secret the user already scanned when `sealed` comes back with a mistake, shown
    at `error_id`)."""
    context: dict[str, object] = {"required": required}
    try:
        setup = two_factor.begin_setup(_keys(request), user=signed_user, sealed=sealed)
        context |= {"setup": setup, "secret": totp.grouped(setup.secret)}
    except SecretKeyMissing as exc:
        context["unavailable"] = exc.detail  # shown as the page's one message
    if refused is not None and "unavailable" not in context:
        context["errors"] = {error_id: refused.detail}
    return render(
        request, "two_factor_setup.html", context, user=signed_user, no_store=True,
        refused=refused,
    )  # fmt: skip


def _recovery_codes_page(
    request: Request, user: User, codes: list[str], *, other_sessions_ended: int = 0
) -> HTMLResponse:
    context: dict[str, object] = {"codes": codes}
    if other_sessions_ended:
        context["flash"] = sessions_signed_out(other_sessions_ended)
    return render(
        request, "recovery_codes.html", context, user=user, status_code=201, no_store=True
    )


@router.get(SETUP, dependencies=[needs(roles.ACCOUNT)])
async def setup_page(
    request: Request, session: SessionDep, signed: SignedInBeforeTwoFactor
) -> Response:
    """Set up two-factor sign-in: scan a QR code, confirm one code."""
    if await two_factor.is_enabled(session, user_id=signed.user.id):
        return redirect(request, ACCOUNT)
    return _setup_page(request, signed.user, required=signed.two_factor_missing)


@router.post(SETUP, dependencies=[needs(roles.ACCOUNT)])
async def enable(
    request: Request, session: SessionDep, signed: SignedInBeforeTwoFactor, form: CheckedForm
) -> Response:
    """Turn two-factor sign-in on; the recovery codes are shown once, on this answer,
    and the user's other sessions end. The password is asked again: a stolen session
    alone must not put the thief's authenticator on the account (and lock its owner
    out)."""
    user, sealed = signed.user, field(form, "setup")
    required = signed.two_factor_missing
    try:
        await reauthenticate(request, session, user, field(form, "password"), field="password")
    except RelayError as exc:
        return _setup_page(
            request, user, required=required, sealed=sealed, refused=exc, error_id="setup-password"
        )
    try:
        enabled = await two_factor.enable(
            session,
            user=user,
            keys=_keys(request),
            sealed=sealed,
            code=field(form, "code"),
            keep_session=signed.session_id,
            actor=user_actor(request, user),
        )
    except RelayError as exc:
        return _setup_page(request, user, required=required, sealed=sealed, refused=exc)
    shown = _recovery_codes_page(
        request, user, enabled.recovery_codes, other_sessions_ended=enabled.other_sessions_ended
    )
    # The other browsers are no longer known devices (a new credential); this one is.
    remember_device(request, shown, user)
    return with_security_notice(request, shown, user, Action.USER_TWO_FACTOR_ENABLED)


@router.post(f"{SETUP}/disable", dependencies=[needs(roles.ACCOUNT)])
async def disable(
    request: Request, session: SessionDep, signed: CurrentSignIn, form: CheckedForm
) -> Response:
    """Turn two-factor sign-in off: the password and a code (or a recovery code)
    required."""
    user = signed.user
    try:
        keys = await _keys_after_password(request, session, user, form, error_id="disable-password")
        # Refused before a code is spent on it.
        async with read_session(request) as read:
            await two_factor.ensure_may_disable(read, user=user)
        proof = await _second_factor_again(request, user, keys, form)
        await two_factor.disable(session, user=user, proof=proof, actor=user_actor(request, user))
    except RelayError as exc:
        errors = error_for(exc, {"code": "disable-code"}, "disable-password")
        return await account_page(request, session, signed, errors=errors, refused=exc)
    off = redirect(request, ACCOUNT, flash="Two-factor sign-in is off.")
    return with_security_notice(request, off, user, Action.USER_TWO_FACTOR_DISABLED)


@router.post(f"{SETUP}/recovery-codes", dependencies=[needs(roles.ACCOUNT)])
async def replace_recovery_codes(
    request: Request, session: SessionDep, signed: CurrentSignIn, form: CheckedForm
) -> Response:
    """Ten new recovery codes, shown once; the old ones stop working. The password and
    a code (or a recovery code) required."""
    user = signed.user
    try:
        keys = await _keys_after_password(request, session, user, form, error_id="codes-password")
        proof = await _second_factor_again(request, user, keys, form)
        codes = await two_factor.replace_recovery_codes(
            session, user=user, keys=keys, proof=proof, actor=user_actor(request, user)
        )
    except RelayError as exc:
        errors = error_for(exc, {"code": "codes-code"}, "codes-password")
        return await account_page(request, session, signed, errors=errors, refused=exc)
    shown = _recovery_codes_page(request, user, codes)
    return with_security_notice(request, shown, user, Action.USER_RECOVERY_CODES_REPLACED)


def _code_check(
    database: Database,
    keys: AccountKeys,
    user: User,
    code: str,
    client: Actor,
    proofs: list[two_factor.SecondFactorProof],
) -> signin.Check:
    """Whether `code` is the user's second factor, checked (and used up) in a short
    transaction of its own; the proof goes into `proofs`."""

    async def code_matches(found: User | None) -> bool:
        if found is None or found.id != user.id:
            return False
        async with database.sessionmaker.begin() as session:
            proof = await two_factor.prove_second_factor(
                session, user=found, keys=keys, code=code, actor=as_user(found, client)
            )
        if proof is not None:
            proofs.append(proof)
        return proof is not None

    return code_matches


def _pending_token(request: Request) -> str | None:
    return request.cookies.get(cookie_name(request, PENDING_SIGN_IN_COOKIE))


@router.get("/login/two-factor", dependencies=[signed_out("the second step of sign-in")])
async def code_page(request: Request, session: ReadSessionDep) -> Response:
    """The second step of signing in: the code from the app, or a recovery code."""
    if await pending_sign_ins.pending_user(session, token=_pending_token(request)) is None:
        return redirect(request, "/login")
    return render(request, "login_two_factor.html")


@router.post("/login/two-factor", dependencies=[signed_out("the second step of sign-in")])
async def give_code(request: Request, session: SessionDep, form: CheckedForm) -> Response:
    """Finish signing in with a code. Wrong codes count toward the sign-in limits as
    wrong passwords do; a code is accepted once."""
    token = _pending_token(request)
    async with read_session(request) as read:
        user = await pending_sign_ins.pending_user(read, token=token)
    if token is None or user is None:
        return redirect(request, "/login", error=SIGN_IN_TIMED_OUT)
    client = anonymous_actor(request)
    database: Database = request.app.state.db
    if not await pending_sign_ins.count_code_attempt(database, token=token):
        response = redirect(request, "/login", error=pending_sign_ins.TOO_MANY_CODES)
        delete_cookie(request, response, PENDING_SIGN_IN_COOKIE)
        return response
    try:
        keys = _keys(request)
        await dashboard_attempt(request, "sign-in")
        proof = await _checked_code(
            request, user, keys, field(form, "code"), factor="two-factor code"
        )
    except RelayError as exc:
        context = {"errors": {"code": exc.detail}}
        return render(request, "login_two_factor.html", context, refused=exc)
    if not await pending_sign_ins.finish_pending(session, token=token):
        # The code is used up all the same: its notice goes out either way.
        timed_out = redirect(request, "/login", error=SIGN_IN_TIMED_OUT)
        return _with_code_notice(request, timed_out, user, proof)
    await signin.record_sign_in(session, user, client)
    signed_in = await start_signed_in(request, session, user, HOME)
    delete_cookie(request, signed_in, PENDING_SIGN_IN_COOKIE)
    return _with_code_notice(request, signed_in, user, proof)


def _with_code_notice(
    request: Request, response: Response, user: User, proof: two_factor.SecondFactorProof
) -> Response:
    """`response`, mailing the user when the code given was a recovery code."""
    if proof.factor is two_factor.Factor.RECOVERY_CODE:
        return with_security_notice(request, response, user, Action.USER_RECOVERY_CODE_USED)
    return response
