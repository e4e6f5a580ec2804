//go:build windows

package svcmgr

// The account a service runs as (unit.Description.WindowsServiceAccount)
// and the directories it writes to, which Install creates and, for an
// account other than LocalSystem, opens to that account: the lock's
// directory %ProgramData%\sole\NAME (pidlock.Named's, which is also where
// `sole run --service` writes COMMAND's output by default) and the log
// directory when one is given. LocalSystem needs no grant: it has full
// control of %ProgramData% already.
//
// A virtual account's SID is computed here (S-1-5-80- and the SHA-1 of
// the upper-case service name, as Windows' RtlCreateServiceSid and `sc
// showsid` do) rather than looked up: LookupAccountName knows NT
// SERVICE\NAME only once the service exists, and Wine 8's never does.

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf16"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/solehq/sole/pidlock"
)

// The accounts as the SCM spells them (unit.WindowsServiceAccount).
const (
	localService   = `NT AUTHORITY\LocalService`
	networkService = `NT AUTHORITY\NetworkService`
	virtualPrefix  = `NT SERVICE\`
)

// modifyAccess is the "Modify" right of Explorer's security tab: read,
// write, execute and delete, without changing permissions or owner.
const modifyAccess = windows.FILE_GENERIC_READ | windows.FILE_GENERIC_WRITE | windows.FILE_GENERIC_EXECUTE | windows.DELETE

// inheritFlags make an ACE apply to the directory, its files and its
// subdirectories.
const inheritFlags = windows.OBJECT_INHERIT_ACE | windows.CONTAINER_INHERIT_ACE

// accountSID returns the SID of account (as WindowsServiceAccount
// returns it, not "") for service name.
func accountSID(account, name string) (*windows.SID, error) {
	switch {
	case strings.EqualFold(account, localService):
		return windows.CreateWellKnownSid(windows.WinLocalServiceSid)
	case strings.EqualFold(account, networkService):
		return windows.CreateWellKnownSid(windows.WinNetworkServiceSid)
	case strings.EqualFold(account, virtualPrefix+name):
		return windows.StringToSid(serviceSID(name))
	}
	return nil, fmt.Errorf("%s: no SID known for account %q", name, account)
}

// serviceSID is the SID of service name's virtual account NT
// SERVICE\NAME, in string form: S-1-5-80 followed by the SHA-1 of the
// service name in upper case (UTF-16LE), as five little-endian words.
func serviceSID(name string) string {
	u := utf16.Encode([]rune(strings.ToUpper(name)))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		binary.LittleEndian.PutUint16(b[2*i:], c)
	}
	sum := sha1.Sum(b)
	s := "S-1-5-80"
	for i := 0; i < len(sum); i += 4 {
		s += fmt.Sprintf("-%d", binary.LittleEndian.Uint32(sum[i:]))
	}
	return s
}

// lockDir is the directory of service name's lock, as pidlock.Named puts
// it for the system scope (%ProgramData%\sole\NAME).
func lockDir(name string) (string, error) {
	l, err := pidlock.Named(name, pidlock.WithScope(pidlock.ScopeSystem))
	if err != nil {
		return "", err
	}
	return filepath.Dir(l.Path()), nil
}

// prepareDirs creates c's directories and, for an account other than
// LocalSystem, grants it modify rights on each, inherited by what is
// inside. It reports whether it changed anything it can see: a directory
// made, or a grant that the file system then reports (Wine's accepts
// grants without keeping them, so there they are made every time,
// without counting as a change).
func prepareDirs(c config) (bool, error) {
	var sid *windows.SID
	if c.account != "" {
		var err error
		if sid, err = accountSID(c.account, c.name); err != nil {
			return false, err
		}
	}
	changed := false
	for _, dir := range c.dirs {
		if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return changed, fmt.Errorf("%s: create %s: %w", c.name, dir, err)
			}
			changed = true
		} else if err != nil {
			return changed, fmt.Errorf("%s: %w", c.name, err)
		}
		if sid == nil {
			continue
		}
		ch, err := grantModify(dir, sid)
		if err != nil {
			return changed, fmt.Errorf("%s: give %s modify rights on %s: %w", c.name, c.account, dir, err)
		}
		changed = changed || ch
	}
	return changed, nil
}

// grantModify adds to dir's DACL an inherited allow-modify entry for sid,
// unless one is there already, and reports whether the DACL read back
// has it where it had not before.
func grantModify(dir string, sid *windows.SID) (bool, error) {
	dacl, err := namedDACL(dir)
	if err != nil {
		return false, err
	}
	nd, add, err := withModify(dacl, sid)
	if err != nil || !add {
		return false, err
	}
	// Also brings the inheritable entry down to what dir holds already.
	if err := windows.SetNamedSecurityInfo(dir, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION, nil, nil, nd, nil); err != nil {
		return false, err
	}
	after, err := namedDACL(dir)
	if err != nil {
		return false, err
	}
	return hasModify(after, sid), nil
}

func namedDACL(path string) (*windows.ACL, error) {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT, windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return nil, err
	}
	dacl, _, err := sd.DACL()
	if errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) {
		return nil, nil // no DACL: everyone has full control
	}
	return dacl, err
}

// withModify returns dacl with an allow entry for sid added that gives
// modifyAccess to the directory, its files and subdirectories, and true;
// or dacl and false when dacl has such an entry already.
func withModify(dacl *windows.ACL, sid *windows.SID) (*windows.ACL, bool, error) {
	if dacl == nil || hasModify(dacl, sid) {
		return dacl, false, nil
	}
	nd, err := windows.ACLFromEntries([]windows.EXPLICIT_ACCESS{{
		AccessPermissions: modifyAccess,
		AccessMode:        windows.GRANT_ACCESS,
		Inheritance:       windows.SUB_CONTAINERS_AND_OBJECTS_INHERIT,
		Trustee: windows.TRUSTEE{
			TrusteeForm:  windows.TRUSTEE_IS_SID,
			TrusteeType:  windows.TRUSTEE_IS_WELL_KNOWN_GROUP,
			TrusteeValue: windows.TrusteeValueFromSID(sid),
		},
	}}, dacl)
	if err != nil {
		return nil, false, err
	}
	return nd, true, nil
}

// hasModify reports whether dacl has an allow entry (its own or inherited)
// that gives sid modifyAccess on the directory and what it holds.
func hasModify(dacl *windows.ACL, sid *windows.SID) bool {
	for i := range uint32(dacl.AceCount) {
		var ace *windows.ACCESS_ALLOWED_ACE
		if windows.GetAce(dacl, i, &ace) != nil {
			return false
		}
		if ace.Header.AceType != windows.ACCESS_ALLOWED_ACE_TYPE ||
			ace.Header.AceFlags&inheritFlags != inheritFlags || ace.Header.AceFlags&windows.INHERIT_ONLY_ACE != 0 ||
			ace.Mask&modifyAccess != modifyAccess {
			continue
		}
		if (*windows.SID)(unsafe.Pointer(&ace.SidStart)).Equals(sid) {
			return true
		}
	}
	return false
}
