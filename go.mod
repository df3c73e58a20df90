module github.com/relman-dev/relman

go 1.26.0

require github.com/teambition/rrule-go v1.8.2
