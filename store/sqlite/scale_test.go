package sqlite_test

import (
	"testing"

	"github.com/relman-dev/relman/store/internal/storedoc/scaletest"
)

func TestPlanIndex(t *testing.T)       { scaletest.PlanIndex(t, openTemp(t)) }
func TestFeedbackRecords(t *testing.T) { scaletest.Feedback(t, openTemp(t)) }
func TestListCursor(t *testing.T)      { scaletest.Cursor(t, openTemp(t)) }
