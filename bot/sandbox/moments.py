"""Customer moments (客户朋友圈) of the sandbox corp, with WeCom's rules (peers.md W8-W12):

- media for moments come from `media/upload_attachment` and live 3 days;
- `add_moment_task` answers a `jobid` at once; the result (`moment_id`, invalid senders) is
  read later with `get_moment_task_result`, and a jobid is valid 24 hours;
- a corp may create at most 10 moment tasks a minute;
- senders outside the app's moments range (客户朋友圈 使用范围) are ignored and reported in
  `invalid_sender_list`;
- each sender must confirm the enterprise moment in the client (`publish_status` 0 → 1);
  `cancel_moment_task` stops those who have not;
- a personal moment (the JS-SDK shareToExternalMoments) has `create_type` 1 and a creator;
- comments and likes carry only who and when, never the comment's text;
- a deleted moment is never listed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.base import CorpBase
from bot.sandbox.errors import SandboxError
from bot.sandbox.models import FollowRelation, TagGroup

ATTACHMENT_TTL = 3 * 24 * 3600  # an upload_attachment media_id is valid 3 days (W10)
JOB_TTL = 24 * 3600  # a moment task's jobid is valid 24 hours (W8)
JOB_SECONDS = 2  # how long the sandbox takes to create the moment behind a jobid
TASKS_PER_MINUTE = 10  # moment tasks a corp may create per minute (W8)
MAX_TEXT = 2000
MAX_IMAGES = 9
MAX_LINK_TITLE_BYTES = 64
MAX_VIDEO_BYTES = 10 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_SENDERS = 100_000
BAD_PARAMETER = 40058
LIMIT_EXCEEDED = 45009
INVALID_MEDIA = 40007


@dataclass
class Attachment:
    media_id: str
    media_type: str  # image, video, file
    size: int
    created_at: float


@dataclass
class MomentSender:
    userid: str
    publish_status: int = 0  # 0 not yet published, 1 published
    published_at: int = 0
    visible_to: list[str] = field(default_factory=list)  # external_userids who can see it


@dataclass
class Interaction:
    external_userid: str
    userid: str  # whose post it was on
    create_time: int


@dataclass
class Moment:
    moment_id: str
    create_type: int  # 0 enterprise, 1 personal
    creator: str  # the member for a personal moment, "" for an enterprise task
    text: str
    attachments: list[dict[str, Any]]
    tag_ids: list[str]
    create_time: int
    senders: dict[str, MomentSender] = field(default_factory=dict)
    cancelled: bool = False
    deleted: bool = False
    comments: list[Interaction] = field(default_factory=list)
    likes: list[Interaction] = field(default_factory=list)


@dataclass
class MomentJob:
    jobid: str
    created_at: float
    moment: Moment
    invalid_users: list[str]
    invalid_departments: list[int]
    invalid_tags: list[str]


class MomentsMixin(CorpBase):
    follows: dict[tuple[str, str], FollowRelation]
    tag_groups: dict[str, TagGroup]

    def _init_moments(self) -> None:
        self.attachments: dict[str, Attachment] = {}
        self.moment_jobs: dict[str, MomentJob] = {}
        self.moments: dict[str, Moment] = {}
        self.task_created_at: list[float] = []
        # Members the admin put in 客户朋友圈 使用范围; None = everyone (W12).
        self.moment_range: set[str] | None = None
        self.moment_tasks_per_minute = TASKS_PER_MINUTE
        # False: the app is not in 客户联系 → 可调用应用, so moments APIs answer 48002 (W12).
        self.moments_api_allowed = True

    def check_moments_api(self) -> None:
        if not self.moments_api_allowed:
            raise SandboxError(48002, "api forbidden: add the app to 客户联系 可调用应用")

    # media -------------------------------------------------------------------------------

    def store_attachment(self, media_type: str, size: int) -> Attachment:
        if media_type not in ("image", "video", "file"):
            raise SandboxError(40004, "media_type must be image, video or file")
        if size < 5:
            raise SandboxError(40006, "media file is empty")
        cap = MAX_VIDEO_BYTES if media_type == "video" else MAX_IMAGE_BYTES
        if size > cap:
            raise SandboxError(40006, f"{media_type} larger than {cap} bytes")
        att = Attachment(self.new_id("3a", 60), media_type, size, self.clock())
        self.attachments[att.media_id] = att
        return att

    def _attachment(self, media_id: str, media_type: str) -> Attachment:
        att = self.attachments.get(media_id)
        if att is None or att.media_type != media_type:
            raise SandboxError(INVALID_MEDIA, f"media_id {media_id!r} unknown or not {media_type}")
        if self.clock() >= att.created_at + ATTACHMENT_TTL:
            raise SandboxError(INVALID_MEDIA, f"media_id {media_id!r} expired (3 days)")
        return att

    # enterprise tasks ----------------------------------------------------------------------

    def _check_attachments(self, attachments: list[dict[str, Any]]) -> None:
        kinds = [a.get("msgtype") if isinstance(a, dict) else None for a in attachments]
        if any(k not in ("image", "video", "link") for k in kinds):
            raise SandboxError(40008, "attachments[].msgtype must be image, video or link")
        if len(set(kinds)) > 1:
            raise SandboxError(BAD_PARAMETER, "images, a video and a link cannot be mixed")
        if kinds.count("image") > MAX_IMAGES:
            raise SandboxError(BAD_PARAMETER, "at most 9 images")
        if kinds.count("video") > 1 or kinds.count("link") > 1:
            raise SandboxError(BAD_PARAMETER, "at most one video or one link")
        for att in attachments:
            kind = att["msgtype"]
            body = att.get(kind)
            if not isinstance(body, dict):
                raise SandboxError(47001, f"attachments[].{kind} must be an object")
            self._attachment(str(body.get("media_id", "")), "image" if kind == "link" else kind)
            if kind == "link":
                title, url = str(body.get("title", "")), str(body.get("url", ""))
                if not url.startswith(("http://", "https://")):
                    raise SandboxError(BAD_PARAMETER, "link.url must be an http(s) URL")
                if len(title.encode()) > MAX_LINK_TITLE_BYTES:
                    raise SandboxError(BAD_PARAMETER, "link.title longer than 64 bytes")

    def _rate_check(self) -> None:
        now = self.clock()
        self.task_created_at = [t for t in self.task_created_at if t > now - 60]
        if len(self.task_created_at) >= self.moment_tasks_per_minute:
            raise SandboxError(LIMIT_EXCEEDED, "at most 10 moment tasks a minute")
        self.task_created_at.append(now)

    def in_moment_range(self, userid: str) -> bool:
        return userid in self.staff and (self.moment_range is None or userid in self.moment_range)

    def add_moment_task(
        self,
        text: str,
        attachments: list[dict[str, Any]],
        users: list[str],
        departments: list[int],
        tag_ids: list[str],
    ) -> MomentJob:
        if len(text) > MAX_TEXT:
            raise SandboxError(45002, "text longer than 2000 characters")
        if not text and not attachments:
            raise SandboxError(44004, "text or attachments required")
        if len(users) > MAX_SENDERS:
            raise SandboxError(BAD_PARAMETER, "at most 100000 senders")
        self._check_attachments(attachments)
        self._rate_check()
        known_tags = {t.id for g in self.tag_groups.values() for t in g.tags}
        invalid_tags = [t for t in tag_ids if t not in known_tags]
        invalid_depts = [d for d in departments if d not in self.departments]
        senders = {u for u in users if self.in_moment_range(u)}
        for dept in departments:
            if dept in self.departments:
                tree = set(self.department_tree(dept))
                senders |= {
                    s.userid
                    for s in self.staff.values()
                    if tree & set(s.department) and self.in_moment_range(s.userid)
                }
        if not users and not departments:  # no sender list: every member in range
            senders = {u for u in self.staff if self.in_moment_range(u)}
        moment = Moment(
            self.new_id("mom", 30),
            0,
            "",
            text,
            attachments,
            [t for t in tag_ids if t in known_tags],
            self.now(),
        )
        moment.senders = {u: MomentSender(u) for u in sorted(senders)}
        job = MomentJob(
            self.new_id("job", 24),
            self.clock(),
            moment,
            [u for u in users if not self.in_moment_range(u)],
            invalid_depts,
            invalid_tags,
        )
        self.moment_jobs[job.jobid] = job
        return job

    def moment_job(self, jobid: str) -> MomentJob:
        job = self.moment_jobs.get(jobid)
        if job is None or self.clock() >= job.created_at + JOB_TTL:
            raise SandboxError(BAD_PARAMETER, f"jobid {jobid!r} unknown or older than 24 hours")
        if self.clock() >= job.created_at + JOB_SECONDS:
            self.moments.setdefault(job.moment.moment_id, job.moment)
        return job

    def job_done(self, job: MomentJob) -> bool:
        return job.moment.moment_id in self.moments

    def get_moment(self, moment_id: str) -> Moment:
        moment = self.moments.get(moment_id)
        if moment is None or moment.deleted:
            raise SandboxError(BAD_PARAMETER, f"moment_id {moment_id!r} not found")
        return moment

    def cancel_moment_task(self, moment_id: str) -> Moment:
        moment = self.get_moment(moment_id)
        if moment.create_type != 0:
            raise SandboxError(BAD_PARAMETER, "only an enterprise moment task can be cancelled")
        moment.cancelled = True
        return moment

    # the client: members publishing, customers reacting ----------------------------------

    def _viewers(self, userid: str, tag_ids: list[str]) -> list[str]:
        """The member's customers who can see the post: all, or those with any of the tags."""
        found = []
        for (uid, ext), rel in self.follows.items():
            if uid == userid and (not tag_ids or set(tag_ids) & set(rel.tag_ids)):
                found.append(ext)
        return sorted(found)

    def publish_moment(self, moment_id: str, userid: str) -> MomentSender:
        """The member confirms the enterprise moment in 客户朋友圈 → 企业通知."""
        moment = self.get_moment(moment_id)
        sender = moment.senders.get(userid)
        if sender is None:
            raise SandboxError(BAD_PARAMETER, f"{userid!r} is not a sender of {moment_id!r}")
        if moment.cancelled:
            raise SandboxError(BAD_PARAMETER, "the moment task was cancelled")
        if sender.publish_status == 0:
            sender.publish_status, sender.published_at = 1, self.now()
            sender.visible_to = self._viewers(userid, moment.tag_ids)
        return sender

    def post_personal_moment(
        self, userid: str, text: str, attachments: list[dict[str, Any]] | None = None
    ) -> Moment:
        """What shareToExternalMoments produces: a personal moment (create_type 1)."""
        self.get_staff(userid)
        if len(text) > MAX_TEXT:
            raise SandboxError(45002, "text longer than 2000 characters")
        moment = Moment(
            self.new_id("mom", 30), 1, userid, text, list(attachments or []), [], self.now()
        )
        moment.senders = {userid: MomentSender(userid, 1, self.now(), self._viewers(userid, []))}
        self.moments[moment.moment_id] = moment
        return moment

    def delete_moment(self, moment_id: str) -> None:
        self.get_moment(moment_id).deleted = True

    def react_to_moment(self, moment_id: str, userid: str, external_userid: str, kind: str) -> None:
        moment = self.get_moment(moment_id)
        sender = moment.senders.get(userid)
        if sender is None or sender.publish_status != 1:
            raise SandboxError(BAD_PARAMETER, f"{userid!r} has not published {moment_id!r}")
        if external_userid not in sender.visible_to:
            raise SandboxError(BAD_PARAMETER, f"{external_userid!r} cannot see this post")
        item = Interaction(external_userid, userid, self.now())
        if kind == "like":
            if not any(
                x.external_userid == external_userid and x.userid == userid for x in moment.likes
            ):
                moment.likes.append(item)
        elif kind == "comment":
            moment.comments.append(item)
        else:
            raise SandboxError(BAD_PARAMETER, "kind is like or comment")

    def moments_between(self, start: int, end: int, creator: str, filter_type: int) -> list[Moment]:
        found = []
        for m in self.moments.values():
            if m.deleted or not start <= m.create_time <= end:
                continue
            if filter_type in (0, 1) and m.create_type != filter_type:
                continue
            if creator and m.creator != creator:
                continue
            if not any(self.in_moment_range(u) for u in m.senders):
                continue  # WeCom lists only what members in the app's range sent
            found.append(m)
        return sorted(found, key=lambda m: (m.create_time, m.moment_id))
