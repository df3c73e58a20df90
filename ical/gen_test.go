package ical

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestWindowsZonesGenerated checks that windowszones.go is what the
// generator makes of the CLDR data installed here (Debian's
// unicode-cldr-core); it skips where that is not installed.
func TestWindowsZonesGenerated(t *testing.T) {
	const xml = "/usr/share/unicode/cldr/common/supplemental/windowsZones.xml"
	if _, err := os.Stat(xml); err != nil {
		t.Skip("CLDR windowsZones.xml not installed")
	}
	if testing.Short() {
		t.Skip("builds the generator")
	}
	out := filepath.Join(t.TempDir(), "windowszones.go")
	cmd := exec.Command("go", "run", "./internal/gen", "-in", xml, "-out", out)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generator: %v\n%s", err, msg)
	}
	want, _ := os.ReadFile(out)
	got, err := os.ReadFile("windowszones.go")
	if err != nil {
		t.Fatal(err)
	}
	version := func(src []byte) string {
		for line := range bytes.Lines(src) {
			if bytes.HasPrefix(line, []byte("const windowsZonesVersion")) {
				return string(bytes.TrimSpace(line))
			}
		}
		return ""
	}
	if version(got) != version(want) {
		t.Skipf("installed CLDR data (%s) is not the data windowszones.go was made from (%s)", version(want), version(got))
	}
	if !bytes.Equal(got, want) {
		t.Errorf("windowszones.go is stale: run go generate ./ical/")
	}
}
