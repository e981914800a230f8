"""The admin API with the service_role key: create, list (paginated), get, update (ban, role,
metadata), delete (hard and soft), generate_link; refused without the service role."""

from __future__ import annotations

import uuid

import jwt as pyjwt
import pytest
from supabase_auth.errors import AuthApiError

from tests.localbase.auth.conftest import PASSWORD, admin, client, db, new_email, signed_up


def test_create_user_with_email_confirm_and_app_metadata(auth_server, service):
    email = new_email("admin")
    created = service.auth.admin.create_user({
        "email": email, "password": PASSWORD, "email_confirm": True,
        "user_metadata": {"name": "Made"}, "app_metadata": {"plan": "pro"}})
    user = created.user
    assert user.email == email and user.email_confirmed_at is not None
    assert user.app_metadata == {"provider": "email", "providers": ["email"], "plan": "pro"}
    assert user.user_metadata == {"name": "Made"}
    # the trigger fired for admin-created users too
    assert db(auth_server, "select count(*) from public.profiles where id = $1", uuid.UUID(user.id),
              fetch="fetchval") == 1
    session = client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    claims = pyjwt.decode(session.access_token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert claims["app_metadata"]["plan"] == "pro"


def test_create_existing_email_is_email_exists(service):
    email = new_email()
    service.auth.admin.create_user({"email": email, "password": PASSWORD})
    with pytest.raises(AuthApiError) as info:
        service.auth.admin.create_user({"email": email, "password": PASSWORD})
    assert (info.value.status, info.value.code) == (422, "email_exists")


def test_create_user_with_imported_password_hash(auth_server, service):
    import bcrypt
    email = new_email("hash")
    hashed = bcrypt.hashpw(b"imported-pw", bcrypt.gensalt(4, prefix=b"2a")).decode()
    service.auth.admin.create_user({"email": email, "password_hash": hashed, "email_confirm": True})
    assert client(auth_server).auth.sign_in_with_password({"email": email, "password": "imported-pw"}).session


def test_list_users_is_paginated(service):
    for _ in range(3):
        service.auth.admin.create_user({"email": new_email("page"), "password": PASSWORD})
    first = service.auth.admin.list_users(page=1, per_page=2)
    second = service.auth.admin.list_users(page=2, per_page=2)
    assert len(first) == 2 and len(second) == 2
    assert not {u.id for u in first} & {u.id for u in second}


def test_get_user_by_id_and_unknown_id(service):
    created = service.auth.admin.create_user({"email": new_email(), "password": PASSWORD}).user
    assert service.auth.admin.get_user_by_id(created.id).user.email == created.email
    with pytest.raises(AuthApiError) as info:
        service.auth.admin.get_user_by_id(str(uuid.uuid4()))
    assert (info.value.status, info.value.code) == (404, "user_not_found")


def test_update_user_by_id_role_metadata_and_ban(auth_server, service):
    email = new_email()
    user = service.auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True}).user
    updated = service.auth.admin.update_user_by_id(user.id, {
        "role": "supervisor", "user_metadata": {"level": 2}, "app_metadata": {"clearance": 3}}).user
    assert updated.role == "supervisor" and updated.user_metadata == {"level": 2}
    assert updated.app_metadata["clearance"] == 3 and updated.app_metadata["provider"] == "email"
    session = client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD}).session
    claims = pyjwt.decode(session.access_token, auth_server.jwt_secret, algorithms=["HS256"], audience="authenticated")
    assert claims["role"] == "supervisor" and claims["app_metadata"]["clearance"] == 3
    banned = service.auth.admin.update_user_by_id(user.id, {"ban_duration": "1h30m"}).user
    assert banned.banned_until is not None
    with pytest.raises(AuthApiError) as info:
        client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert (info.value.status, info.value.code) == (400, "user_banned")
    with pytest.raises(AuthApiError):  # banning ended the sessions it had
        client(auth_server).auth.refresh_session(session.refresh_token)


def test_update_user_by_id_email_and_password(auth_server, service):
    user = service.auth.admin.create_user({"email": new_email(), "password": PASSWORD, "email_confirm": True}).user
    new = new_email("renamed")
    service.auth.admin.update_user_by_id(user.id, {"email": new, "password": "another-pass-9"})
    signed_in = client(auth_server).auth.sign_in_with_password({"email": new, "password": "another-pass-9"})
    assert signed_in.user.id == user.id


def test_hard_delete_removes_user_and_cascades(auth_server, service):
    _, response = signed_up(auth_server)
    uid = uuid.UUID(response.user.id)
    service.auth.admin.delete_user(response.user.id)
    assert db(auth_server, "select count(*) from auth.users where id = $1", uid, fetch="fetchval") == 0
    assert db(auth_server, "select count(*) from public.profiles where id = $1", uid, fetch="fetchval") == 0
    assert db(auth_server, "select count(*) from auth.identities where user_id = $1", uid, fetch="fetchval") == 0


def test_soft_delete_keeps_row_but_user_is_gone(auth_server, service):
    email = new_email()
    _, response = signed_up(auth_server, email)
    service.auth.admin.delete_user(response.user.id, should_soft_delete=True)
    row = db(auth_server, "select deleted_at, email from auth.users where id = $1", uuid.UUID(response.user.id),
             fetch="fetchrow")
    assert row["deleted_at"] is not None and row["email"] != email
    assert db(auth_server, "select count(*) from public.profiles where id = $1", uuid.UUID(response.user.id),
              fetch="fetchval") == 1  # foreign keys to the user survive a soft delete
    with pytest.raises(AuthApiError) as info:
        client(auth_server).auth.sign_in_with_password({"email": email, "password": PASSWORD})
    assert info.value.code == "invalid_credentials"
    with pytest.raises(AuthApiError):
        client(auth_server).auth.refresh_session(response.session.refresh_token)
    assert service.auth.admin.get_user_by_id(response.user.id).user.deleted_at is not None


@pytest.mark.parametrize("link_type", ["magiclink", "recovery", "signup", "invite"])
def test_generate_link_then_verify(auth_server, service, link_type):
    email = new_email(link_type)
    if link_type in ("magiclink", "recovery"):
        signed_up(auth_server, email)
    params = {"type": link_type, "email": email, "options": {"redirect_to": "http://localhost:8000/welcome"}}
    if link_type == "signup":
        params["password"] = PASSWORD
    link = service.auth.admin.generate_link(params)
    props = link.properties
    assert props.verification_type == link_type and props.redirect_to == "http://localhost:8000/welcome"
    assert props.hashed_token in props.action_link and len(props.email_otp) == 6
    assert link.user.email == email
    verified = client(auth_server).auth.verify_otp({"type": link_type, "token_hash": props.hashed_token})
    assert verified.user.email == email and verified.session is not None
    assert verified.user.email_confirmed_at is not None
    with pytest.raises(AuthApiError) as info:  # one use only
        client(auth_server).auth.verify_otp({"type": link_type, "token_hash": props.hashed_token})
    assert (info.value.status, info.value.code) == (403, "otp_expired")


@pytest.mark.parametrize("who", ["anon_key", "user_token"])
def test_admin_api_needs_service_role(auth_server, who):
    c = client(auth_server)
    if who == "user_token":
        c, _ = signed_up(auth_server)
    with pytest.raises(AuthApiError) as info:
        c.auth.admin.list_users()
    assert (info.value.status, info.value.code) == (403, "not_admin")
    with pytest.raises(AuthApiError):
        c.auth.admin.create_user({"email": new_email(), "password": PASSWORD})


async def test_async_admin_round_trip(auth_server):
    from tests.localbase.auth.conftest import aclient
    service = await aclient(auth_server, auth_server.service_role_key)
    email = new_email("async-admin")
    user = (await service.auth.admin.create_user({"email": email, "password": PASSWORD, "email_confirm": True})).user
    assert (await service.auth.admin.get_user_by_id(user.id)).user.email == email
    await service.auth.admin.update_user_by_id(user.id, {"user_metadata": {"a": 1}})
    assert (await service.auth.admin.get_user_by_id(user.id)).user.user_metadata == {"a": 1}
    await service.auth.admin.delete_user(user.id)
    with pytest.raises(AuthApiError):
        await service.auth.admin.get_user_by_id(user.id)
    assert admin(auth_server)  # the sync helper still works alongside
