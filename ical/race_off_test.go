//go:build !race

package ical

// raceEnabled shortens the slowest randomized tests under the race detector.
const raceEnabled = false
