"""The whole company the sandbox serves: the data set, and what derives from it, built on
first use (the content of a call, reviews, the library, activity, administration)."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from gong_sandbox.data.activity import Activity
from gong_sandbox.data.administration import Administration
from gong_sandbox.data.company import Company
from gong_sandbox.data.content import CallContent
from gong_sandbox.data.dataset import Dataset
from gong_sandbox.data.library import Library
from gong_sandbox.data.scoring import Review, Reviews


class World:
    """Not thread-safe: the sandbox serializes access with its lock."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    @cached_property
    def company(self) -> Company:
        dataset = self.dataset
        return Company(
            seed=dataset.seed,
            users=dataset.users,
            workspace_ids=dataset.workspace_ids,
            now=dataset.created_at,
            zone=dataset.zone,
        )

    @cached_property
    def content(self) -> CallContent:
        dataset = self.dataset
        return CallContent(
            seed=dataset.seed, company=self.company, users=dataset.users, zone=dataset.zone
        )

    @cached_property
    def reviews(self) -> Reviews:
        dataset = self.dataset
        return Reviews(
            seed=dataset.seed, company=self.company, users=dataset.users, zone=dataset.zone
        )

    @cached_property
    def library(self) -> Library:
        dataset = self.dataset
        return Library(
            seed=dataset.seed,
            workspace_ids=dataset.workspace_ids,
            user_ids=[user.id for user in dataset.users],
            founded=dataset.created_at - timedelta(days=800),
            zone=dataset.zone,
        )

    @cached_property
    def activity(self) -> Activity:
        return Activity(dataset=self.dataset, content=self.content, reviews=self.reviews)

    @cached_property
    def administration(self) -> Administration:
        dataset = self.dataset
        return Administration(
            seed=dataset.seed,
            users=dataset.users,
            workspace_ids=dataset.workspace_ids,
            first_day=(dataset.created_at - timedelta(days=400)).astimezone(dataset.zone).date(),
            zone=dataset.zone,
        )

    def all_reviews(self) -> list[Review]:
        dataset = self.dataset
        return self.reviews.all(dataset.calls_started(), dataset.version)
