"""/auth: register, login, refresh, logout, profile - through Supabase Auth."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from efficiency_hub.api.deps import AccountsDep, Token, UserClient
from efficiency_hub.api.schemas import LoginRequest, Profile, RefreshRequest, RegisterRequest, RegisterResponse
from efficiency_hub.errors import NotFound
from efficiency_hub.models import Session
from efficiency_hub.tracker import Tracker

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/register", status_code=status.HTTP_201_CREATED, response_model=RegisterResponse,
             responses={400: {"description": "weak password or invalid email"},
                        409: {"description": "email or citizen id already registered"}})
async def register(body: RegisterRequest, accounts: AccountsDep) -> RegisterResponse:
    """Creates the account; the database's sign-up trigger creates the citizen (clearance
    infrared until an operator grants more)."""
    done = await accounts.register(email=str(body.email), password=body.password, citizen_id=body.citizen_id,
                                   name=body.name, specialization=body.specialization)
    return RegisterResponse(user_id=UUID(done.user_id), email=done.email, citizen_id=body.citizen_id,
                            confirmation_required=done.confirmation_required, session=done.session)


@router.post("/login", response_model=Session, responses={401: {"description": "invalid credentials"}})
async def login(body: LoginRequest, accounts: AccountsDep) -> Session:
    return await accounts.sign_in(str(body.email), body.password)


@router.post("/refresh", response_model=Session, responses={401: {"description": "invalid or used refresh token"}})
async def refresh(body: RefreshRequest, accounts: AccountsDep) -> Session:
    return await accounts.refresh(body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(token: Token, accounts: AccountsDep) -> None:
    """Ends this session: its refresh token stops working (the access token lives until it expires)."""
    await accounts.sign_out(token)


@router.get("/profile", response_model=Profile)
async def profile(token: Token, accounts: AccountsDep, client: UserClient) -> Profile:
    user = await accounts.user(token)
    try:
        citizen = await Tracker(client).me()
    except NotFound:
        citizen = None
    return Profile(user_id=user["id"], email=user.get("email"), last_sign_in_at=user.get("last_sign_in_at"),
                   citizen=citizen)
