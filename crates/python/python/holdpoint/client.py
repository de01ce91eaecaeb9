"""Clients of `policy serve` (docs/server.md): `Client` (blocking) and `AsyncClient`.

An agent decides calls (`decide`), submits the ones that need a person (`submit`),
waits for the decision (`wait`, `wait_for_decision`), claims an approved call exactly
once (`claim`: the call to run and a signed permit), and reports what became of it
(`report`). An approver's token decides (`decide_request`).

Retries: a call that never reached the service (it could not connect), a 429 (after its
`Retry-After`) and a 503 are tried again, with growing pauses. A call whose answer was
lost (a read timeout), or that a proxy answered 502 or 504, is tried again only when doing
it twice is harmless (reads, `decide`, `submit`, which the service keys by tenant, run and
tool-call id): `claim`, `report`, `cancel` and `decide_request` are not.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
import warnings
from typing import Any, Mapping, Optional

from urllib.parse import quote

import httpx

from ._holdpoint import HoldpointError, verify_permit

__all__ = ["AsyncClient", "Client", "ServiceError"]

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_WAIT_S = 55


class ServiceError(HoldpointError):
    """The service refused a call: `status` (HTTP), `code` and `message` (its error body)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


def _error(r: httpx.Response) -> ServiceError:
    try:
        body = r.json()
    except ValueError:
        return ServiceError(r.status_code, "error", r.text[:500])
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return ServiceError(r.status_code, "error", r.text[:500])
    return ServiceError(r.status_code, str(err.get("code", "error")), str(err.get("message", r.text[:500])))


def _id(request_id: str) -> str:
    """A request id as one path segment."""
    return quote(str(request_id), safe="")


def _proposal(
    call: Mapping[str, Any],
    *,
    tenant: str,
    run_id: str,
    tool_call_id: str,
    user: Optional[str],
    agent: Optional[str],
    credentials_ref: Optional[str],
    reasoning: Optional[str],
    inputs: Any,
    alternatives: Optional[list[str]],
    before: Any,
) -> dict[str, Any]:
    identity: dict[str, Any] = {"tenant": tenant}
    if user is not None:
        identity["user"] = user
    if agent is not None:
        identity["agent"] = agent
    if credentials_ref is not None:
        identity["credentials_ref"] = credentials_ref
    body: dict[str, Any] = {"call": dict(call), "identity": identity, "run_id": run_id, "tool_call_id": tool_call_id}
    for key, value in (("reasoning", reasoning), ("inputs", inputs), ("alternatives", alternatives), ("before", before)):
        if value is not None:
            body[key] = value
    return body


class _Base:
    def __init__(self, url: str, token: str, *, timeout: float, retries: int, backoff: float):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"`{url}` is not an http:// or https:// URL")
        self.url = url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.timeout = timeout
        self._headers = {"authorization": f"Bearer {token}"}
        self._keys: Optional[dict[str, str]] = None

    def _pause(self, attempt: int, r: Optional[httpx.Response]) -> float:
        if r is not None and r.status_code == 429:
            try:
                return min(30.0, float(r.headers.get("retry-after", "1")))
            except ValueError:
                return 1.0
        return self.backoff * (2**attempt)

    def _retry(self, attempt: int, error: Optional[Exception], r: Optional[httpx.Response], repeatable: bool) -> bool:
        if attempt >= self.retries:
            return False
        if r is not None:
            # A proxy's 502 or 504 may come after the service did the call: only a call
            # that is harmless twice is repeated then.
            return r.status_code in (RETRY_STATUSES if repeatable else {429, 503})
        if isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)):
            return True  # never reached the service
        return repeatable and isinstance(error, (httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError))

    @staticmethod
    def _answer(r: httpx.Response) -> Any:
        if r.status_code >= 400:
            raise _error(r)
        try:
            return r.json()
        except ValueError:
            raise ServiceError(r.status_code, "not_json", f"the answer is not JSON: {r.text[:200]}") from None

    def _verify(self, keys: dict[str, str], permit: str, tool: str, args: Any) -> dict[str, Any]:
        # The key id is in the claims; try each key the service publishes (usually one).
        last: Optional[Exception] = None
        for public_key in keys.values():
            try:
                return verify_permit(public_key, permit, tool, args)
            except HoldpointError as e:
                last = e
        raise last or HoldpointError("the service publishes no keys")


class Client(_Base):
    """A blocking client of `policy serve`.

    >>> c = Client("http://127.0.0.1:8787", token)
    >>> r = c.submit({"tool": "stripe.refund", "args": {"amount": 900}},
    ...              tenant="acme", run_id="run-1", tool_call_id="call-1", user="uma")
    """

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.2, transport: Optional[httpx.BaseTransport] = None):
        super().__init__(url, token, timeout=timeout, retries=retries, backoff=backoff)
        self._http = httpx.Client(base_url=self.url, headers=self._headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        """Closes the connections."""
        self._http.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
              repeatable: bool, timeout: Optional[float] = None) -> Any:
        attempt = 0
        while True:
            r: Optional[httpx.Response] = None
            error: Optional[Exception] = None
            try:
                r = self._http.request(method, path, json=json, params=params,
                                       timeout=timeout if timeout is not None else self.timeout)
            except httpx.TransportError as e:
                error = e
            if (r is None or r.status_code in RETRY_STATUSES) and self._retry(attempt, error, r, repeatable):
                time.sleep(self._pause(attempt, r))
                attempt += 1
                continue
            if r is None:
                raise HoldpointError(f"{method} {self.url}{path}: {error}") from error
            return self._answer(r)

    def decide(self, call: Mapping[str, Any]) -> dict[str, Any]:
        """The service's decision for a call (nothing stored): `POST /v1/decisions`."""
        return self._call("POST", "/v1/decisions", json=dict(call), repeatable=True)

    def submit(self, call: Mapping[str, Any], *, tenant: str, run_id: str, tool_call_id: str,
               user: Optional[str] = None, agent: Optional[str] = None,
               credentials_ref: Optional[str] = None, reasoning: Optional[str] = None,
               inputs: Any = None, alternatives: Optional[list[str]] = None,
               before: Any = None) -> dict[str, Any]:
        """Submits a proposal: `allow`/`audit` give a permit at once, `deny` the decision,
        `approve` the waiting request (`request`, `digest`, `state`)."""
        body = _proposal(call, tenant=tenant, run_id=run_id, tool_call_id=tool_call_id, user=user,
                         agent=agent, credentials_ref=credentials_ref, reasoning=reasoning,
                         inputs=inputs, alternatives=alternatives, before=before)
        return self._call("POST", "/v1/requests", json=body, repeatable=True)

    def show(self, request_id: str) -> dict[str, Any]:
        """The request as it is now."""
        return self._call("GET", f"/v1/requests/{_id(request_id)}", repeatable=True)

    def wait(self, request_id: str, timeout: float = 30) -> dict[str, Any]:
        """The request as soon as its state changes, or after `timeout` seconds (at most 55)."""
        seconds = max(0, min(int(timeout), MAX_WAIT_S))
        return self._call("GET", f"/v1/requests/{_id(request_id)}/wait", params={"timeout": seconds},
                          repeatable=True, timeout=seconds + self.timeout)

    def wait_for_decision(self, request_id: str, deadline: Optional[float] = None) -> dict[str, Any]:
        """Waits (in `wait`s of up to 55 s) until the request is no longer pending, or
        `deadline` seconds passed; the request as it then is."""
        end = None if deadline is None else time.monotonic() + deadline
        while True:
            left = MAX_WAIT_S if end is None else max(0.0, end - time.monotonic())
            left = math.ceil(left)  # a wait of 0 s answers at once: never spin on it
            r = self.wait(request_id, timeout=min(MAX_WAIT_S, left))
            if r.get("state") != "pending" or (end is not None and time.monotonic() >= end):
                return r

    def claim(self, request_id: str) -> dict[str, Any]:
        """Claims an approved call, once: `call` (to run), `claim` (to report with) and
        `permit` (for the tool server to verify)."""
        return self._call("POST", f"/v1/requests/{_id(request_id)}/claim", repeatable=False)

    def report(self, request_id: str, claim: str, outcome: str, result: Any = None) -> dict[str, Any]:
        """Reports what became of a claimed call: `executed` or `failed`."""
        body = {"claim": claim, "outcome": outcome, "result": result}
        return self._call("POST", f"/v1/requests/{_id(request_id)}/report", json=body, repeatable=False)

    def cancel(self, request_id: str, reason: str) -> dict[str, Any]:
        """Withdraws a request nobody decided yet."""
        return self._call("POST", f"/v1/requests/{_id(request_id)}/cancel", json={"reason": reason}, repeatable=False)

    def decide_request(self, request_id: str, decision: str, digest: str, *, reason: Optional[str] = None,
                       set: Optional[Mapping[str, Any]] = None, to: Optional[str] = None,
                       gate: Optional[str] = None) -> dict[str, Any]:
        """As an approver: `approve`, `reject` (with `reason`), `edit` (with `set`) or
        `escalate` (with `to`), naming the `digest` of what was seen."""
        body: dict[str, Any] = {"decision": decision, "digest": digest}
        for key, value in (("reason", reason), ("set", dict(set) if set is not None else None), ("to", to), ("gate", gate)):
            if value is not None:
                body[key] = value
        return self._call("POST", f"/v1/requests/{_id(request_id)}/decisions", json=body, repeatable=False)

    def keys(self) -> dict[str, str]:
        """The service's public keys, by id (`GET /v1/keys`), fetched once (and again
        when a permit verifies with none of them)."""
        if self._keys is None:
            listed = self._call("GET", "/v1/keys", repeatable=True).get("keys", [])
            self._keys = {k["id"]: k["public_key"] for k in listed}
        return self._keys

    def verify_permit(self, permit: str, tool: str, args: Any) -> dict[str, Any]:
        """Checks a permit against the call about to run with the service's public key;
        its claims, or `PermitError` (after fetching the keys again, in case the service
        has a new one)."""
        try:
            return self._verify(self.keys(), permit, tool, args)
        except HoldpointError:
            # The service may have a new key since the keys were fetched: fetch them again, once.
            self._keys = None
            return self._verify(self.keys(), permit, tool, args)


class AsyncClient(_Base):
    """The same calls as `Client`, for asyncio."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0, retries: int = 3,
                 backoff: float = 0.2, transport: Optional[httpx.AsyncBaseTransport] = None):
        super().__init__(url, token, timeout=timeout, retries=retries, backoff=backoff)
        self._http = httpx.AsyncClient(base_url=self.url, headers=self._headers, timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        """Closes the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                    repeatable: bool, timeout: Optional[float] = None) -> Any:
        attempt = 0
        while True:
            r: Optional[httpx.Response] = None
            error: Optional[Exception] = None
            try:
                r = await self._http.request(method, path, json=json, params=params,
                                             timeout=timeout if timeout is not None else self.timeout)
            except httpx.TransportError as e:
                error = e
            if (r is None or r.status_code in RETRY_STATUSES) and self._retry(attempt, error, r, repeatable):
                await asyncio.sleep(self._pause(attempt, r))
                attempt += 1
                continue
            if r is None:
                raise HoldpointError(f"{method} {self.url}{path}: {error}") from error
            return self._answer(r)

    async def decide(self, call: Mapping[str, Any]) -> dict[str, Any]:
        """See `Client.decide`."""
        return await self._call("POST", "/v1/decisions", json=dict(call), repeatable=True)

    async def submit(self, call: Mapping[str, Any], *, tenant: str, run_id: str, tool_call_id: str,
                     user: Optional[str] = None, agent: Optional[str] = None,
                     credentials_ref: Optional[str] = None, reasoning: Optional[str] = None,
                     inputs: Any = None, alternatives: Optional[list[str]] = None,
                     before: Any = None) -> dict[str, Any]:
        """See `Client.submit`."""
        body = _proposal(call, tenant=tenant, run_id=run_id, tool_call_id=tool_call_id, user=user,
                         agent=agent, credentials_ref=credentials_ref, reasoning=reasoning,
                         inputs=inputs, alternatives=alternatives, before=before)
        return await self._call("POST", "/v1/requests", json=body, repeatable=True)

    async def show(self, request_id: str) -> dict[str, Any]:
        """See `Client.show`."""
        return await self._call("GET", f"/v1/requests/{_id(request_id)}", repeatable=True)

    async def wait(self, request_id: str, timeout: float = 30) -> dict[str, Any]:
        """See `Client.wait`."""
        seconds = max(0, min(int(timeout), MAX_WAIT_S))
        return await self._call("GET", f"/v1/requests/{_id(request_id)}/wait", params={"timeout": seconds},
                                repeatable=True, timeout=seconds + self.timeout)

    async def wait_for_decision(self, request_id: str, deadline: Optional[float] = None) -> dict[str, Any]:
        """See `Client.wait_for_decision`."""
        end = None if deadline is None else time.monotonic() + deadline
        while True:
            left = MAX_WAIT_S if end is None else max(0.0, end - time.monotonic())
            left = math.ceil(left)  # a wait of 0 s answers at once: never spin on it
            r = await self.wait(request_id, timeout=min(MAX_WAIT_S, left))
            if r.get("state") != "pending" or (end is not None and time.monotonic() >= end):
                return r

    async def claim(self, request_id: str) -> dict[str, Any]:
        """See `Client.claim`."""
        return await self._call("POST", f"/v1/requests/{_id(request_id)}/claim", repeatable=False)

    async def report(self, request_id: str, claim: str, outcome: str, result: Any = None) -> dict[str, Any]:
        """See `Client.report`."""
        body = {"claim": claim, "outcome": outcome, "result": result}
        return await self._call("POST", f"/v1/requests/{_id(request_id)}/report", json=body, repeatable=False)

    async def cancel(self, request_id: str, reason: str) -> dict[str, Any]:
        """See `Client.cancel`."""
        return await self._call("POST", f"/v1/requests/{_id(request_id)}/cancel", json={"reason": reason}, repeatable=False)

    async def decide_request(self, request_id: str, decision: str, digest: str, *, reason: Optional[str] = None,
                             set: Optional[Mapping[str, Any]] = None, to: Optional[str] = None,
                             gate: Optional[str] = None) -> dict[str, Any]:
        """See `Client.decide_request`."""
        body: dict[str, Any] = {"decision": decision, "digest": digest}
        for key, value in (("reason", reason), ("set", dict(set) if set is not None else None), ("to", to), ("gate", gate)):
            if value is not None:
                body[key] = value
        return await self._call("POST", f"/v1/requests/{_id(request_id)}/decisions", json=body, repeatable=False)

    async def keys(self) -> dict[str, str]:
        """See `Client.keys`."""
        if self._keys is None:
            listed = (await self._call("GET", "/v1/keys", repeatable=True)).get("keys", [])
            self._keys = {k["id"]: k["public_key"] for k in listed}
        return self._keys

    async def verify_permit(self, permit: str, tool: str, args: Any) -> dict[str, Any]:
        """See `Client.verify_permit`."""
        try:
            return self._verify(await self.keys(), permit, tool, args)
        except HoldpointError:
            self._keys = None
            return self._verify(await self.keys(), permit, tool, args)


async def _maybe(value: Any) -> Any:
    """The value, awaited if it is awaitable (a `Client` answers at once, an
    `AsyncClient` with a coroutine): one code path for the adapters over both."""
    if inspect.isawaitable(value):
        return await value
    return value


async def _report_quietly(client: "Client | AsyncClient", request_id: str, claim: str, outcome: str,
                          result: Any) -> None:
    """Reports an outcome; a report that fails does not undo a call that ran (the service
    holds it as `outcome_unknown` when the lease ends), so it is a warning."""
    try:
        await _maybe(client.report(request_id, claim, outcome, result))
    except HoldpointError as e:
        warnings.warn(f"holdpoint: the outcome of {request_id} was not reported: {e}", stacklevel=3)
