"""Branching stories: create, read, edit, delete, import from Twine, and make their card.

A story is saved only without errors (`core.stories.checked`), its warnings in
every answer. Its card is a native interactive Yoto card with Yoto-hosted audio
(`core.yoto.interactive`), so it plays with this service off; a card whose
scenes Yoto does not hold yet is a `story-card` run that uploads them first,
like `services.card_uploads`. A rewrite keeps the same Yoto card (docs/cards.md,
"Stories").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from core import stories as domain
from core import twee
from core.errors import Conflict, Invalid, NotFound, VersionConflict
from core.ports import RunQueue, RunRepository, SettingsRepository, StoryRepository
from core.records import AudioItem, Card, Page, Run, Story, User, new_id, utcnow
from core.stories import Problem, Scene
from core.yoto import interactive, limits
from core.yoto.cloud import YotoCard
from services import access, jobs, library, tts, yoto_storage
from services import card_content as content
from services.card_content import CardPorts, UserLookup
from services.card_uploads import _Reporter
from services.cards import delete_on_yoto_and_here, forget_on_yoto
from services.library import LibraryPorts, paged
from services.tts import TtsPorts
from services.yoto_storage import TrackProgress

KIND = "story-card"
TWEE_MAX_BYTES = 512 * 1024  # a Twee file the import reads (Yoto's own 97-passage sample is 110 KB)


def pending_key(run_id: str) -> str:
    return f"story-card:{run_id}"


@dataclass(frozen=True)
class StoryPorts:
    stories: StoryRepository
    cards: CardPorts
    runs: RunRepository
    queue: RunQueue
    settings: SettingsRepository
    users: UserLookup
    tts: TtsPorts
    library: LibraryPorts
    max_scenes: int


@dataclass(frozen=True)
class StoryView:
    story: Story
    problems: list[Problem]
    yoto_card_id: str | None


@dataclass(frozen=True)
class CardWritten:
    """The story's card written in the request (`card`), or the run that will write it."""

    story: Story
    card: Card | None = None
    run: Run | None = None


def _get(ports: StoryPorts, user: User, story_id: str) -> Story:
    story = access.found(ports.stories.get, "story", story_id)
    access.visible(user, story.owner, "story", story_id)
    return story


def _card_of(ports: StoryPorts, story: Story) -> Card | None:
    if not story.card_id:
        return None
    try:
        return ports.cards.cards.get(story.card_id)
    except NotFound:
        return None  # deleted on the Cards page: the next card is a new one


def view(ports: StoryPorts, story: Story) -> StoryView:
    card = _card_of(ports, story)
    scenes = domain.scenes_of(story.scenes)
    return StoryView(story, domain.problems(story.start, scenes), card.yoto_card_id if card else None)


def _checked(ports: StoryPorts, user: User, title: str, start: str, scenes: Sequence[Scene]) -> list[Problem]:
    found = domain.checked(title, start, scenes, max_scenes=ports.max_scenes)
    for s in scenes:
        if s.audio_id:
            try:
                content.usable_audio(ports.cards.audio, ports.users, user, [s.audio_id])
            except Invalid as exc:
                raise Invalid(f"scene {s.id!r}: {exc}") from None
    return found


# --------------------------------------------------------------------------- the records


def create(ports: StoryPorts, user: User, title: str, start: str, scenes: Sequence[Scene]) -> StoryView:
    _checked(ports, user, title, start, scenes)
    now = utcnow()
    story = Story(
        id=new_id(),
        owner=user.owner_id,
        title=title.strip(),
        start=start,
        scenes=domain.as_dicts(scenes),
        created_at=now,
        updated_at=now,
    )
    ports.stories.add(story)
    return view(ports, story)


def list_stories(ports: StoryPorts, user: User, *, everyone: bool, limit: int, cursor: str | None) -> Page[StoryView]:
    owner = content.listing_owner(user, everyone)
    page = paged(lambda: ports.stories.list(owner=owner, limit=limit, cursor=cursor))
    return Page([view(ports, s) for s in page.items], page.next_cursor)


def get(ports: StoryPorts, user: User, story_id: str) -> StoryView:
    return view(ports, _get(ports, user, story_id))


def update(
    ports: StoryPorts,
    user: User,
    story_id: str,
    title: str,
    start: str,
    scenes: Sequence[Scene],
    *,
    version: int | None = None,
) -> StoryView:
    """Replace the story's title, start and scenes (its card is rewritten by the next POST …/card)."""
    current = _get(ports, user, story_id)
    access.may_change(user, current.owner, "story")
    if version is not None and version != current.version:
        raise VersionConflict(
            f"the story changed meanwhile (it is at version {current.version}, not {version}): reload it"
        )
    _checked(ports, user, title, start, scenes)
    changed = replace(current, title=title.strip(), start=start, scenes=domain.as_dicts(scenes))
    return view(ports, ports.stories.save(changed, expected_version=current.version))


def delete(ports: StoryPorts, user: User, story_id: str) -> None:
    """The story's card goes with it (on Yoto first: if Yoto fails, nothing is deleted)."""
    story = _get(ports, user, story_id)
    access.may_change(user, story.owner, "story")
    card = _card_of(ports, story)
    if card is not None:
        busy = jobs.active_run(ports.runs, card.id)
        if busy is not None:
            raise Conflict(f"the story's card is being written (run {busy.id}); try again when it ends")
        delete_on_yoto_and_here(ports.cards, card)
    ports.stories.delete(story.id)


# --------------------------------------------------------------------------- Twine


def import_twee(ports: StoryPorts, user: User, text: str) -> StoryView:
    """A story from a Twee 3 file; each passage that names no audio is spoken (text to
    speech, counted in the member's quota). Nothing is kept when any step fails."""
    parsed = twee.parse(text)
    if len(parsed.scenes) > ports.max_scenes:
        raise Invalid(f"a story has at most {ports.max_scenes} scenes, the file has {len(parsed.scenes)} passages")
    scenes = [i.scene for i in parsed.scenes]
    domain.checked(parsed.title, parsed.start, scenes, max_scenes=ports.max_scenes)
    spoken: list[AudioItem] = []
    try:
        done: list[Scene] = []
        for imported in parsed.scenes:
            scene = imported.scene
            if not scene.audio_id:
                label = f"{parsed.title}: {scene.title}"[: content.TITLE_MAX]
                item = tts.speak(ports.tts, user, text=imported.speech, title=label)
                spoken.append(item)
                scene = replace(scene, audio_id=item.id)
            done.append(scene)
        return create(ports, user, parsed.title, parsed.start, done)
    except BaseException:
        for item in spoken:
            with contextlib.suppress(Exception):
                library.remove(ports.library, item, force=True)
        raise


# --------------------------------------------------------------------------- the card


@dataclass(frozen=True)
class _Plan:
    story: Story
    scenes: list[Scene]
    items: dict[str, AudioItem]  # by scene id
    card: Card | None


def _plan(ports: StoryPorts, user: User, story: Story) -> _Plan:
    """Every check a card write makes before calling Yoto."""
    cards = ports.cards
    if cards.media is None:
        raise Conflict("this install cannot upload to Yoto's storage, which a story's card needs to play offline")
    scenes = domain.scenes_of(story.scenes)
    silent = [s.id for s in scenes if not s.audio_id]
    if silent:
        raise Conflict(f"every scene needs audio before the card is made; these have none: {', '.join(silent)}")
    items: dict[str, AudioItem] = {}
    for s in scenes:
        assert s.audio_id is not None
        try:
            items[s.id] = content.usable_audio(cards.audio, cards.users, user, [s.audio_id])[s.audio_id]
        except Invalid as exc:
            raise Conflict(f"scene {s.id!r}: {exc}") from None
        if len(yoto_storage.planned(cards.media, items[s.id], s.title)) > 1:
            raise Conflict(f"scene {s.id!r} is longer than one Yoto track may last: shorten its audio")
    sized = [limits.Sized(s.title, items[s.id].duration_s or 0.0, items[s.id].size_bytes) for s in scenes]
    limits.check(cards.rules.limits, sized)
    return _Plan(story, scenes, items, _card_of(ports, story))


def _missing(ports: StoryPorts, plan: _Plan) -> list[AudioItem]:
    media = ports.cards.media
    assert media is not None
    unique = {i.id: i for i in plan.items.values()}
    return [i for i in unique.values() if not yoto_storage.is_held(media, plan.story.owner, i)]


def write_card(ports: StoryPorts, user: User, story_id: str) -> CardWritten:
    """Make or rewrite (the same Yoto card) the story's card; a run while uploads are needed."""
    story = _get(ports, user, story_id)
    access.may_change(user, story.owner, "story")
    plan = _plan(ports, user, story)
    target = story.card_id or new_id()  # named by the story from the first write on, made or not
    busy = jobs.active_run(ports.runs, target)
    if busy is not None:
        raise Conflict(f"this story's card is being written already (run {busy.id}, {busy.status})", run_id=busy.id)
    if not _missing(ports, plan):
        card, saved = _write(ports, user, plan, target, None)
        return CardWritten(saved, card=card)
    story = _link(ports, story.id, target)
    run = jobs.new_run(KIND, target, story.owner, "manual")
    ports.settings.put(pending_key(run.id), {"by": user.owner_id, "story_id": story.id, "card_id": target})
    try:
        queued = jobs.start(ports.runs, ports.queue, run)
    except BaseException:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))
        raise
    if queued:
        return CardWritten(story, run=run)
    done = jobs.execute(ports.runs, {KIND: lambda r: run_card(ports, r)}, run.id)
    now = ports.stories.get(story.id)
    return CardWritten(now, card=_card_of(ports, now), run=done)


def run_card(ports: StoryPorts, run: Run) -> jobs.Outcome:
    """The queued card write of `run`: the story as it is now, its audio uploaded, then the card."""
    try:
        body: dict[str, Any] = ports.settings.get(pending_key(run.id))
    except NotFound:
        return jobs.Outcome("failed", "the write this upload was for is gone")
    try:
        user = ports.users.get_user(body["by"])
        try:
            story = ports.stories.get(body["story_id"])
        except NotFound:
            return jobs.Outcome("failed", "the story was deleted meanwhile")
        reporter = _Reporter(ports.runs, run)
        card, _ = _write(ports, user, _plan(ports, user, story), body["card_id"], reporter)
        results = [{**r, "phase": "complete", "percent": 100} for r in reporter.results]
        return jobs.Outcome("ok", f"card {card.id} written", results)
    finally:
        with contextlib.suppress(NotFound):
            ports.settings.delete(pending_key(run.id))


def _on_yoto(ports: CardPorts, card: Card | None) -> YotoCard | None:
    if card is None or not card.yoto_card_id:
        return None
    try:
        return ports.yoto.tokens.call(card.owner, ports.yoto.cloud.get_card, card.yoto_card_id)
    except NotFound:
        return None  # deleted in Yoto's app: made again


def _write(
    ports: StoryPorts, user: User, plan: _Plan, card_id: str, on_progress: Callable[[TrackProgress], None] | None
) -> tuple[Card, Story]:
    cards = ports.cards
    assert cards.media is not None
    story, account = plan.story, plan.story.owner
    unique = list({i.id: i for i in plan.items.values()}.values())
    held = yoto_storage.put_tracks(cards.media, account, unique, on_progress=on_progress)
    by_item = {item.id: parts[0] for item, parts in zip(unique, held, strict=True)}
    tracks = {s.id: by_item[plan.items[s.id].id].track(s.title) for s in plan.scenes}
    index = cards.yoto.icon_index(account)
    icons: dict[str, str | None] = {}
    for s in plan.scenes:
        choice = index.choose(s.title, story.title)
        icons[s.id] = choice.media_id if choice else None
    old = _on_yoto(cards, plan.card)
    compiled = interactive.compile_card(story.title, story.start, plan.scenes, tracks, icons=icons, old=old)
    saved = cards.yoto.tokens.call(account, cards.yoto.cloud.save_card, compiled)
    ordered = domain.card_order(story.start, plan.scenes)
    fields: dict[str, Any] = {
        "title": story.title,
        "yoto_card_id": saved.card_id,
        "audio_ids": tuple(plan.items[s.id].id for s in ordered),
        "track_titles": tuple(s.title for s in ordered),
        "track_icons": tuple("" for _ in ordered),
        "chosen_icons": tuple(icons[s.id] or "" for s in ordered),
        "storage": "yoto",
        "story_id": story.id,
    }
    current = _card_of(ports, story)
    if current is not None and current.id == card_id:
        card = cards.cards.update(replace(current, **fields))
    else:
        now = utcnow()
        card = Card(id=card_id, owner=account, created_at=now, updated_at=now, **fields)
        try:
            cards.cards.add(card)
        except Exception:
            if old is None:
                forget_on_yoto(cards, account, saved.card_id)
            raise
    return card, _link(ports, story.id, card.id)


def _link(ports: StoryPorts, story_id: str, card_id: str) -> Story:
    """The story names its card (a compare-and-swap, retried over edits made meanwhile)."""
    for _ in range(5):
        story = ports.stories.get(story_id)
        if story.card_id == card_id:
            return story
        try:
            return ports.stories.save(replace(story, card_id=card_id), expected_version=story.version)
        except VersionConflict:
            continue
    raise VersionConflict("the story kept changing while its card was written: make the card again")
