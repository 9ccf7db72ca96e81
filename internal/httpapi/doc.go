// Package httpapi serves Parley over HTTP: the read API of the projector
// (state, timeline, history, diff, events, health) and the append endpoint
// of ingest (POST /v1/events). Handlers are thin: they parse and check
// parameters, naming the one that is wrong, and call package projections
// or package ingest. docs/api.md describes every endpoint.
package httpapi
