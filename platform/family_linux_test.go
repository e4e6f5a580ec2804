//go:build linux

package platform

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
)

func TestParseStatInfo(t *testing.T) {
	tests := map[string]struct {
		line       string
		ppid, pgrp int
		ticks      uint64
		wantErr    bool
	}{
		"ordinary":          {line: statLine(42, "sleep", 777), ppid: 1, pgrp: 2, ticks: 777},
		"spaces and parens": {line: statLine(42, "a) R 9 9", 5), ppid: 1, pgrp: 2, ticks: 5},
		"bad ppid":          {line: "42 (x) S y 2 3 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5 1 1\n", wantErr: true},
		"negative pgrp":     {line: "42 (x) S 1 -2 3 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 5 1 1\n", wantErr: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			si, err := parseStatInfo([]byte(tt.line))
			if tt.wantErr {
				if err == nil {
					t.Fatalf("parseStatInfo = %+v; want an error", si)
				}
				return
			}
			if err != nil || si.ppid != tt.ppid || si.pgrp != tt.pgrp || si.startTicks != tt.ticks {
				t.Fatalf("parseStatInfo = %+v, %v", si, err)
			}
		})
	}
}

func TestProcessFamily(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ppid, pgid, err := ProcessFamily(cmd.Process.Pid)
	if err != nil || ppid != os.Getpid() || pgid != cmd.Process.Pid {
		t.Fatalf("ProcessFamily = %d, %d, %v; want %d, %d", ppid, pgid, err, os.Getpid(), cmd.Process.Pid)
	}
	if _, _, err := ProcessFamily(0); err == nil {
		t.Fatal("ProcessFamily(0) succeeded")
	}
}
