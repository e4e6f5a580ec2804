//go:build windows

package solecmd

import (
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sys/windows"
)

// The polite stop requests of a service's COMMAND: a CTRL_BREAK_EVENT to
// its console process group, and WM_CLOSE to its top-level windows.

var (
	kernel32                  = windows.NewLazySystemDLL("kernel32.dll")
	procAllocConsole          = kernel32.NewProc("AllocConsole")
	procFreeConsole           = kernel32.NewProc("FreeConsole")
	procGetConsoleWindow      = kernel32.NewProc("GetConsoleWindow")
	procSetConsoleCtrlHandler = kernel32.NewProc("SetConsoleCtrlHandler")
	user32                    = windows.NewLazySystemDLL("user32.dll")
	procShowWindow            = user32.NewProc("ShowWindow")
	procPostMessageW          = user32.NewProc("PostMessageW")
)

const wmClose = 0x0010

var (
	ctrlHandlerOnce sync.Once
	ctrlHandlerErr  error
)

// serviceConsole gives the service process a console that COMMAND
// inherits, so that a CTRL_BREAK_EVENT can reach COMMAND's process group:
// GenerateConsoleCtrlEvent reaches only processes attached to the
// caller's console, and a service has none. The console's window is
// hidden (in session 0, where services run, nobody would see it anyway).
//
// sole itself ignores every console control event from then on: a
// CTRL_BREAK_EVENT aimed at COMMAND's group does not concern it, and a
// service attached to a console gets a CTRL_LOGOFF_EVENT whenever a user
// logs off, whose default handling would end it. A system shutdown comes
// to sole from the SCM (SERVICE_CONTROL_SHUTDOWN), which stops COMMAND as
// a stop request does.
func serviceConsole() error {
	ctrlHandlerOnce.Do(func() {
		// Registered after Go's own handler, it is called first, and
		// returning TRUE ends the event's handling in this process.
		cb := windows.NewCallback(func(uint32) uintptr { return 1 })
		if r, _, err := procSetConsoleCtrlHandler.Call(cb, 1); r == 0 {
			ctrlHandlerErr = fmt.Errorf("SetConsoleCtrlHandler: %w", err)
		}
	})
	if ctrlHandlerErr != nil {
		return ctrlHandlerErr
	}
	// A service has no console; if this process has one, it is not
	// one to share with COMMAND (Wine gives processes started from Unix a
	// pseudo-console that takes no control events).
	procFreeConsole.Call()
	if r, _, err := procAllocConsole.Call(); r == 0 {
		return fmt.Errorf("AllocConsole: %w", err)
	}
	if hwnd, _, _ := procGetConsoleWindow.Call(); hwnd != 0 {
		procShowWindow.Call(hwnd, windows.SW_HIDE)
	}
	return nil
}

// ctrlBreak sends a CTRL_BREAK_EVENT to the console process group whose
// root is pid (a process started with CREATE_NEW_PROCESS_GROUP).
func ctrlBreak(pid int) error {
	if err := windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(pid)); err != nil {
		return fmt.Errorf("GenerateConsoleCtrlEvent: %w", err)
	}
	return nil
}

var (
	enumMu       sync.Mutex
	enumCallback uintptr
	enumPids     []uint32
	enumWindows  []windows.HWND
)

// topLevelWindows returns the top-level windows (of the desktop sole is
// on) that belong to the processes pids.
func topLevelWindows(pids []uint32) ([]windows.HWND, error) {
	enumMu.Lock()
	defer enumMu.Unlock()
	if enumCallback == 0 {
		// Callbacks are never freed: make one, once.
		enumCallback = windows.NewCallback(func(hwnd windows.HWND, _ uintptr) uintptr {
			var pid uint32
			if _, err := windows.GetWindowThreadProcessId(hwnd, &pid); err == nil && slices.Contains(enumPids, pid) {
				enumWindows = append(enumWindows, hwnd)
			}
			return 1 // go on
		})
	}
	enumPids, enumWindows = pids, nil
	err := windows.EnumWindows(enumCallback, nil)
	hwnds := enumWindows
	enumPids, enumWindows = nil, nil
	if err != nil {
		return nil, fmt.Errorf("EnumWindows: %w", err)
	}
	return hwnds, nil
}

// closeWindows posts WM_CLOSE to every top-level window of the processes
// pids and returns how many it posted to.
func closeWindows(pids []uint32) (int, error) {
	hwnds, err := topLevelWindows(pids)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, hwnd := range hwnds {
		if r, _, _ := procPostMessageW.Call(uintptr(hwnd), wmClose, 0, 0); r != 0 {
			n++
		}
	}
	return n, nil
}
