package db

import "github.com/google/uuid"

// The models below describe themselves to the gate (package authz's Entity):
// which row they are and at which version, so that the gate compares a
// caller's pinned version, keys its snapshot cache and checks a held
// snapshot without a closure per action. Hand-written, beside the
// generated models.

// EntityID returns the article's id.
func (a AppArticle) EntityID() uuid.UUID { return a.ID }

// EntityVersion returns the article's version.
func (a AppArticle) EntityVersion() int32 { return a.Version }

// EntityID returns the schedule's id.
func (s AppArticleSchedule) EntityID() uuid.UUID { return s.ID }

// EntityVersion returns the schedule's version.
func (s AppArticleSchedule) EntityVersion() int32 { return s.Version }

// EntityID returns the article's id: the publish snapshot is the article
// with one fact about the others.
func (r ArticleGetForPublishRow) EntityID() uuid.UUID { return r.AppArticle.ID }

// EntityVersion returns the article's version.
func (r ArticleGetForPublishRow) EntityVersion() int32 { return r.AppArticle.Version }

// EntityID returns the article's id: the schedule snapshot is the article
// with its pending schedule's time.
func (r ArticleGetForScheduleRow) EntityID() uuid.UUID { return r.AppArticle.ID }

// EntityVersion returns the article's version.
func (r ArticleGetForScheduleRow) EntityVersion() int32 { return r.AppArticle.Version }
