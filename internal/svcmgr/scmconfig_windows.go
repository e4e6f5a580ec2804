//go:build windows

package svcmgr

// What the SCM and the service's registry key hold of a service's
// configuration: read, and brought to what Install wants, touching only
// what differs.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
	"golang.org/x/sys/windows/svc/mgr"

	"github.com/solehq/sole/internal/unit"
)

// The registry values Install writes under the service's key besides the
// SCM's own.
const (
	valueEnvironment  = "Environment"
	valueStartTimeout = "SoleStartTimeoutMs"
	valueStopTimeout  = "SoleStopTimeoutMs"
)

// current is what the SCM has of the settings Install makes.
type current struct {
	serviceType, startType, errorControl uint32
	binaryPath, account, displayName     string
	description                          string
}

// queryConfig reads the service's configuration with the calls that
// Wine's SCM implements too (mgr's Config also asks for the delayed-start
// and SID settings, which it refuses).
func queryConfig(s *mgr.Service) (current, error) {
	n := uint32(1024)
	var p *windows.QUERY_SERVICE_CONFIG
	for {
		b := make([]byte, n)
		p = (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(s.Handle, p, n, &n)
		if err == nil {
			break
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return current{}, err
		}
	}
	c := current{
		serviceType:  p.ServiceType,
		startType:    p.StartType,
		errorControl: p.ErrorControl,
		binaryPath:   windows.UTF16PtrToString(p.BinaryPathName),
		account:      windows.UTF16PtrToString(p.ServiceStartName),
		displayName:  windows.UTF16PtrToString(p.DisplayName),
	}
	n = 1024
	for {
		b := make([]byte, n)
		err := windows.QueryServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, &b[0], n, &n)
		if err == nil {
			c.description = windows.UTF16PtrToString((*windows.SERVICE_DESCRIPTION)(unsafe.Pointer(&b[0])).Description)
			return c, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return current{}, err
		}
	}
}

func isLocalSystem(account string) bool {
	return account == "" || strings.EqualFold(account, localSystem) || strings.EqualFold(account, `.\`+localSystem)
}

// sameAccount reports whether the SCM's account cur is want (as
// WindowsServiceAccount returns it: "" for LocalSystem). Account names
// are not case-sensitive.
func sameAccount(cur, want string) bool {
	if want == "" {
		return isLocalSystem(cur)
	}
	return strings.EqualFold(cur, want)
}

// updateConfig brings an existing service's configuration to c, touching
// only what differs, and reports whether anything did.
func updateConfig(s *mgr.Service, c config) (bool, error) {
	cur, err := queryConfig(s)
	if err != nil {
		return false, scmError(c.name, "query its configuration", err)
	}
	changed := false
	if cur.serviceType != windows.SERVICE_WIN32_OWN_PROCESS || cur.startType != mgr.StartAutomatic ||
		cur.errorControl != mgr.ErrorNormal || cur.binaryPath != c.binaryPath ||
		!sameAccount(cur.account, c.account) || cur.displayName != c.displayName {
		bin, _ := windows.UTF16PtrFromString(c.binaryPath)
		disp, _ := windows.UTF16PtrFromString(c.displayName)
		var account, password *uint16 // nil: unchanged
		if !sameAccount(cur.account, c.account) {
			// The built-in and virtual accounts take an empty password.
			name := c.account
			if name == "" {
				name = localSystem
			}
			account, _ = windows.UTF16PtrFromString(name)
			password, _ = windows.UTF16PtrFromString("")
		}
		if err := windows.ChangeServiceConfig(s.Handle, windows.SERVICE_WIN32_OWN_PROCESS, mgr.StartAutomatic,
			mgr.ErrorNormal, bin, nil, nil, nil, account, password, disp); err != nil {
			return false, scmError(c.name, "change its configuration", err)
		}
		changed = true
	}
	if cur.description != c.description {
		desc, _ := windows.UTF16PtrFromString(c.description)
		d := windows.SERVICE_DESCRIPTION{Description: desc}
		if err := windows.ChangeServiceConfig2(s.Handle, windows.SERVICE_CONFIG_DESCRIPTION, (*byte)(unsafe.Pointer(&d))); err != nil {
			return changed, scmError(c.name, "change its description", err)
		}
		changed = true
	}
	return changed, nil
}

// setValues writes the registry values of c that differ (the environment
// and the timeouts) and reports whether any did.
func setValues(c config) (bool, error) {
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(c.name), registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return false, fmt.Errorf("%s: open HKLM\\%s: %w", c.name, serviceKey(c.name), err)
	}
	defer k.Close()
	changed := false
	old, _, err := k.GetStringsValue(valueEnvironment)
	switch {
	case len(c.env) == 0 && err == nil:
		if err := k.DeleteValue(valueEnvironment); err != nil {
			return changed, fmt.Errorf("%s: remove its environment: %w", c.name, err)
		}
		changed = true
	case len(c.env) > 0 && (err != nil || !slices.Equal(old, c.env)):
		if err := k.SetStringsValue(valueEnvironment, c.env); err != nil {
			return changed, fmt.Errorf("%s: set its environment: %w", c.name, err)
		}
		changed = true
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{{valueStartTimeout, c.startTO}, {valueStopTimeout, c.stopTO}} {
		if old, _, err := k.GetIntegerValue(v.name); err == nil && old == uint64(millis(v.d)) {
			continue
		}
		if err := k.SetDWordValue(v.name, millis(v.d)); err != nil {
			return changed, fmt.Errorf("%s: set %s: %w", c.name, v.name, err)
		}
		changed = true
	}
	return changed, nil
}

// timeouts reads how long Start and Stop wait for service name (what
// Install wrote, else the defaults).
func timeouts(name string) (start, stop time.Duration) {
	start, stop = unit.DefaultStartTimeout, unit.DefaultStopTimeout
	k, err := registry.OpenKey(registry.LOCAL_MACHINE, serviceKey(name), registry.QUERY_VALUE)
	if err != nil {
		return start, stop
	}
	defer k.Close()
	if ms, _, err := k.GetIntegerValue(valueStartTimeout); err == nil && ms > 0 {
		start = time.Duration(ms) * time.Millisecond
	}
	if ms, _, err := k.GetIntegerValue(valueStopTimeout); err == nil && ms > 0 {
		stop = time.Duration(ms) * time.Millisecond
	}
	return start, stop
}
