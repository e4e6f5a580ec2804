package svcmgr

import "testing"

func TestLaunchdState(t *testing.T) {
	tests := map[string]struct {
		out  string
		want State
	}{
		"running":              {"system/sole.myd = {\n\tactive count = 1\n\tpath = /Library/LaunchDaemons/sole.myd.plist\n\tstate = running\n\n\tprogram = /usr/local/bin/myd\n}\n", Active},
		"not running":          {"gui/501/sole.myd = {\n\tstate = not running\n}\n", Inactive},
		"spawn scheduled":      {"system/sole.myd = {\n\tstate = spawn scheduled\n}\n", Activating},
		"nested state ignored": {"system/sole.myd = {\n\tendpoints = {\n\t\tstate = running\n\t}\n\tstate = not running\n}\n", Inactive},
		"no state":             {"system/sole.myd = {\n}\n", Unknown},
		"unknown word":         {"x = {\n\tstate = dancing\n}\n", Unknown},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := launchdState(tt.out); got != tt.want {
				t.Fatalf("launchdState = %q, want %q", got, tt.want)
			}
		})
	}
}
