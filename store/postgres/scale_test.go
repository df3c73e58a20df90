package postgres_test

import (
	"testing"

	"github.com/relman-dev/relman/store/internal/storedoc/scaletest"
	"github.com/relman-dev/relman/store/postgres"
)

func TestPlanIndex(t *testing.T) {
	scaletest.PlanIndex(t, newStore(t, testPool(t), postgres.Options{}))
}

func TestFeedbackRecords(t *testing.T) {
	scaletest.Feedback(t, newStore(t, testPool(t), postgres.Options{}))
}

func TestListCursor(t *testing.T) {
	scaletest.Cursor(t, newStore(t, testPool(t), postgres.Options{}))
}
