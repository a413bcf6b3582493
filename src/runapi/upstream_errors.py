"""The one error an upstream call raises, for media providers and LLM deployments alike.

    UpstreamError            the upstream failed or refused; routers read it to decide what to do next
      .status                its HTTP status, when it answered one
      .retryable             another deployment (or a later try) may succeed: connection errors, 5xx, 429, …;
                             otherwise it is the upstream's verdict on the request itself (validation, policy)
      .retry_after           seconds the upstream asked to wait, when it said
      .job_failed            media only: the upstream accepted the job and then lost it, so the router submits
                             it elsewhere rather than polling again
      .out_of_reach          media only: this deployment's route table refuses the request before any call
                             (a length or aspect it does not make): the next deployment may serve it; if none
                             can, the task fails at once with this message

It is not a client-facing refusal: routers translate it into `runapi.errors.UpstreamFailed` (LLM) or a failed
task (media)."""

from __future__ import annotations


class UpstreamError(Exception):
    """An upstream refused or failed (see the module docstring for the attributes)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
        job_failed: bool = False,
        out_of_reach: bool = False,
    ):
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.job_failed = job_failed
        self.out_of_reach = out_of_reach

    @property
    def rate_limited(self) -> bool:
        return self.status == 429
