package httpapi

import "testing"

// A reader that falls behind loses changes and is then told to resync;
// the broker never blocks a publisher, and drops revisions it has
// published already.
func TestBrokerOverflow(t *testing.T) {
	b := NewBroker(2)
	s := b.subscribe("")
	defer b.unsubscribe(s)
	for i := int64(1); i <= 5; i++ {
		b.Publish(Change{ReleaseID: "r", Revision: i})
	}
	b.Publish(Change{ReleaseID: "r", Revision: 3}) // already published
	if c := <-s.ch; c.Revision != 1 {
		t.Fatalf("first %+v", c)
	}
	if c := <-s.ch; c.Revision != 2 {
		t.Fatalf("second %+v", c)
	}
	b.Publish(Change{ReleaseID: "r", Revision: 6})
	if c := <-s.ch; !c.Resync {
		t.Fatalf("after an overflow: %+v, want a resync", c)
	}
	if c := <-s.ch; c.Revision != 6 {
		t.Fatalf("after the resync: %+v", c)
	}
	select {
	case c := <-s.ch:
		t.Fatalf("unexpected %+v", c)
	default:
	}
	other := b.subscribe("q")
	defer b.unsubscribe(other)
	b.Publish(Change{ReleaseID: "r", Revision: 7})
	if len(other.ch) != 0 {
		t.Fatal("a change of another release reached a filtered reader")
	}
}
