package unit

import "strings"

// WindowsServiceAccount returns the account a Windows service runs as for
// d.RunAs, in the spelling of the service control manager's
// ServiceStartName (and an .msi's ServiceInstall StartName): "" for
// LocalSystem (also when RunAs is empty), `NT AUTHORITY\LocalService`,
// `NT AUTHORITY\NetworkService`, or the virtual account `NT SERVICE\NAME`
// of the service itself. Any other account, a Group or Harden is refused
// with an *Error: those need a password or have no Windows meaning.
func (d *Description) WindowsServiceAccount() (string, error) {
	if d.Group != "" {
		return "", fieldErr("group", "a Windows service has no group of its own; give --run-as without :GROUP")
	}
	if d.Harden {
		return "", fieldErr("harden", "the sandboxing options are systemd's; Windows has no equivalent sole sets")
	}
	switch a := strings.ToLower(d.RunAs); a {
	case "", "localsystem", `nt authority\system`:
		return "", nil
	case "localservice", `nt authority\localservice`:
		return `NT AUTHORITY\LocalService`, nil
	case "networkservice", `nt authority\networkservice`:
		return `NT AUTHORITY\NetworkService`, nil
	case `nt service\` + strings.ToLower(d.Name):
		return `NT SERVICE\` + d.Name, nil
	}
	return "", fieldErr("run as", "%s: a Windows service runs as LocalSystem, LocalService, NetworkService or its virtual account %s", show(d.RunAs), show(`NT SERVICE\`+d.Name))
}
