package engine

import (
	"errors"
	"testing"
)

// A store whose reserve exceeds the free space refuses writes with
// ErrDiskFull and keeps serving reads; lowering the reserve (as freeing
// space would) lets writes through again.
func TestDiskGuardRefusesWritesNotReads(t *testing.T) {
	s, _ := openTestStore(t)
	if _, err := s.Set(0, b("k"), b("v"), SetArgs{}); err != nil {
		t.Fatal(err)
	}
	s.disk.reserve = 1 << 62
	s.disk.checked.Store(0)
	if _, err := s.Set(0, b("k2"), b("v"), SetArgs{}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("write with the disk 'full': %v", err)
	}
	if _, err := s.Del(0, bs("k")); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("DEL writes too: %v", err)
	}
	if v, ok, err := s.Get(0, b("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("reads must keep working: %q %v %v", v, ok, err)
	}
	s.disk.reserve = 1
	s.disk.checked.Store(0)
	if _, err := s.Set(0, b("k2"), b("v"), SetArgs{}); err != nil {
		t.Fatalf("after space returned: %v", err)
	}
}
