package packaging

// The check of a built .msi: its tables, read back with msiinfo export,
// against the plan (wixl can exit 0 having written a wrong or empty table).

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Component attribute and ServiceControl event bits (msidefs.h).
const (
	component64bit       = 256
	serviceTypeOwn       = 0x10
	serviceStartAuto     = 2
	serviceErrorNormal   = 1
	eventStartInstall    = 0x1
	eventStopInstall     = 0x2
	eventStopUninstall   = 0x20
	eventDeleteUninstall = 0x80
	serviceControlEvent  = eventStartInstall | eventStopInstall | eventStopUninstall | eventDeleteUninstall
)

// The tables buildMSI reads back.
var checkedTables = []string{"ServiceInstall", "ServiceControl", "Component", "File", "Directory", "Property", "Upgrade", "LaunchCondition", "_SummaryInformation"}

// downgradeMessage is MajorUpgrade's DowngradeErrorMessage (a launch
// condition).
const downgradeMessage = "A newer version of [ProductName] is already installed: uninstall it first to install this one."

// checkTables checks the tables of a built package against its plan.
func checkTables(p *msiPlan, tables map[string]*idtTable) error {
	bad := func(table, format string, args ...any) error {
		return &MSITableError{Table: table, Problem: fmt.Sprintf(format, args...)}
	}
	get := func(name string, cols ...string) (*idtTable, error) {
		t := tables[name]
		if t == nil {
			return nil, bad(name, "not in the package")
		}
		for _, c := range cols {
			if t.col(c) < 0 {
				return nil, bad(name, "no column %s", c)
			}
		}
		return t, nil
	}

	// ServiceInstall: one row, the service as planned.
	t, err := get("ServiceInstall", "ServiceInstall", "Name", "DisplayName", "ServiceType", "StartType", "ErrorControl", "StartName", "Arguments", "Component_", "Description")
	if err != nil {
		return err
	}
	if len(t.Rows) != 1 {
		return bad("ServiceInstall", "%d rows, want 1", len(t.Rows))
	}
	s := p.Service
	for _, c := range []struct{ col, want string }{
		{"Name", s.Name},
		{"DisplayName", s.DisplayName},
		{"Description", s.Description},
		{"ServiceType", strconv.Itoa(serviceTypeOwn)},
		{"StartType", strconv.Itoa(serviceStartAuto)},
		{"ErrorControl", strconv.Itoa(serviceErrorNormal)},
		{"StartName", s.Account},
		{"Arguments", s.Arguments},
		{"Component_", s.Component},
	} {
		if got := t.get(0, c.col); got != c.want {
			return bad("ServiceInstall", "%s is %q, want %q", c.col, got, c.want)
		}
	}

	// ServiceControl: one row, start on install, stop on both, delete on
	// uninstall, and wait.
	t, err = get("ServiceControl", "ServiceControl", "Name", "Event", "Wait", "Component_")
	if err != nil {
		return err
	}
	if len(t.Rows) != 1 {
		return bad("ServiceControl", "%d rows, want 1 (wixl writes none for a ServiceControl without Id)", len(t.Rows))
	}
	for _, c := range []struct{ col, want string }{
		{"Name", s.Name},
		{"Event", strconv.Itoa(serviceControlEvent)},
		{"Wait", "1"},
		{"Component_", s.Component},
	} {
		if got := t.get(0, c.col); got != c.want {
			return bad("ServiceControl", "%s is %q, want %q", c.col, got, c.want)
		}
	}

	// Component and File: exactly the planned ones; 64-bit on x64.
	comps, err := get("Component", "Component", "ComponentId", "Directory_", "Attributes", "KeyPath")
	if err != nil {
		return err
	}
	files, err := get("File", "File", "Component_", "FileName", "FileSize")
	if err != nil {
		return err
	}
	if len(comps.Rows) != len(p.Components) {
		return bad("Component", "%d rows, want %d", len(comps.Rows), len(p.Components))
	}
	if len(files.Rows) != len(p.Components) {
		return bad("File", "%d rows, want %d", len(files.Rows), len(p.Components))
	}
	for _, c := range p.Components {
		i := comps.find("Component", c.ID)
		if i < 0 {
			return bad("Component", "no component %s", c.ID)
		}
		attr, err := strconv.Atoi(comps.get(i, "Attributes"))
		if err != nil {
			return bad("Component", "component %s: attributes %q", c.ID, comps.get(i, "Attributes"))
		}
		if p.Win64 && attr&component64bit == 0 {
			return bad("Component", "component %s lacks msidbComponentAttributes64bit (256) in a x64 package (attributes %d; wixl needs Win64=\"yes\")", c.ID, attr)
		}
		if !p.Win64 && attr&component64bit != 0 {
			return bad("Component", "component %s is 64-bit in a x86 package (attributes %d)", c.ID, attr)
		}
		for _, x := range []struct{ col, want string }{{"ComponentId", c.GUID}, {"Directory_", c.Dir}, {"KeyPath", c.FileID}} {
			if got := comps.get(i, x.col); got != x.want {
				return bad("Component", "component %s: %s is %q, want %q", c.ID, x.col, got, x.want)
			}
		}
		j := files.find("File", c.FileID)
		if j < 0 {
			return bad("File", "no file %s (%s)", c.FileID, c.FileName)
		}
		for _, x := range []struct{ col, want string }{{"Component_", c.ID}, {"FileName", c.FileName}, {"FileSize", strconv.FormatInt(c.size, 10)}} {
			if got := files.get(j, x.col); got != x.want {
				return bad("File", "file %s: %s is %q, want %q", c.FileID, x.col, got, x.want)
			}
		}
	}

	// Directory: INSTALLDIR named after the service, under the right
	// Program Files.
	t, err = get("Directory", "Directory", "Directory_Parent", "DefaultDir")
	if err != nil {
		return err
	}
	var checkDir func(d *msiDir, parent string) error
	checkDir = func(d *msiDir, parent string) error {
		i := t.find("Directory", d.ID)
		if i < 0 {
			return bad("Directory", "no directory %s (%s)", d.ID, d.Name)
		}
		if got := t.get(i, "Directory_Parent"); got != parent {
			return bad("Directory", "%s is under %q, want %q", d.ID, got, parent)
		}
		if got := t.get(i, "DefaultDir"); got != d.Name {
			return bad("Directory", "%s is named %q, want %q", d.ID, got, d.Name)
		}
		for _, sub := range d.Dirs {
			if err := checkDir(sub, d.ID); err != nil {
				return err
			}
		}
		return nil
	}
	if err := checkDir(p.Root, p.ProgramFilesFolder); err != nil {
		return err
	}

	// Property: what Add/Remove Programs and upgrades read.
	t, err = get("Property", "Property", "Value")
	if err != nil {
		return err
	}
	props := map[string]string{
		"ProductName": p.DisplayName, "ProductVersion": p.Version, "Manufacturer": p.Manufacturer,
		"UpgradeCode": p.UpgradeCode, "ALLUSERS": "1", "ARPNOMODIFY": "1",
	}
	if p.Contact != "" {
		props["ARPCONTACT"] = p.Contact
	}
	if p.Description != "" {
		props["ARPCOMMENTS"] = p.Description
	}
	for _, k := range slices.Sorted(maps.Keys(props)) {
		i := t.find("Property", k)
		if i < 0 {
			return bad("Property", "no %s", k)
		}
		if got := t.get(i, "Value"); got != props[k] {
			return bad("Property", "%s is %q, want %q", k, got, props[k])
		}
	}
	if i := t.find("Property", "ProductCode"); i < 0 || len(t.get(i, "Value")) != 38 {
		return bad("Property", "no ProductCode")
	}

	// Upgrade: MajorUpgrade's two rows (older versions upgraded, newer
	// ones detected for the downgrade error).
	t, err = get("Upgrade", "UpgradeCode", "VersionMin", "VersionMax", "ActionProperty")
	if err != nil {
		return err
	}
	found := map[string]bool{}
	for i := range t.Rows {
		if t.get(i, "UpgradeCode") == p.UpgradeCode {
			found[t.get(i, "ActionProperty")] = true
		}
	}
	if !found["WIX_UPGRADE_DETECTED"] || !found["WIX_DOWNGRADE_DETECTED"] {
		return bad("Upgrade", "no MajorUpgrade rows for upgrade code %s", p.UpgradeCode)
	}

	// LaunchCondition: the downgrade error.
	t, err = get("LaunchCondition", "Condition", "Description")
	if err != nil {
		return err
	}
	if i := t.find("Condition", "NOT WIX_DOWNGRADE_DETECTED"); i < 0 || t.get(i, "Description") != downgradeMessage {
		return bad("LaunchCondition", "no downgrade error %q", downgradeMessage)
	}

	// The summary's template: the platform.
	t, err = get("_SummaryInformation", "PropertyId", "Value")
	if err != nil {
		return err
	}
	want := map[bool]string{true: "x64;1033", false: "Intel;1033"}[p.Win64]
	if i := t.find("PropertyId", "7"); i < 0 || t.get(i, "Value") != want {
		return bad("_SummaryInformation", "template (platform) is not %q", want)
	}
	return nil
}
