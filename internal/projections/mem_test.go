package projections_test

import (
	"testing"

	"github.com/parley-news/parley/internal/projections"
	"github.com/parley-news/parley/internal/projections/storetest"
)

func TestMemConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) projections.Store { return projections.NewMem() })
}
