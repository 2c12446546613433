package contextd

import (
	"slices"
	"strings"
)

// Permission is one thing a credential may do ("contexts:write"). Roles grant
// sets of permissions; a key or token may narrow its role's set to fewer
// (the "scopes" of a key, the "scope" claim of a JWT). Every route and every
// Service method needs one permission.
type Permission string

// The permissions. Reader roles hold the read ones, writers add the write
// ones, admins add the admin ones.
const (
	PermContextsRead  Permission = "contexts:read"  // get and list contexts, relationships, graphs, session contexts
	PermContextsWrite Permission = "contexts:write" // create, update, delete contexts and relationships
	PermMemoriesRead  Permission = "memories:read"  // get, list and rank memories; get and list sessions
	PermMemoriesWrite Permission = "memories:write" // create, update, delete memories and sessions
	PermSearch        Permission = "search"         // full-text search over contexts and its statistics
	PermAdminKeys     Permission = "admin:keys"     // create, list and revoke the tenant's API keys
	PermAdminBackup   Permission = "admin:backup"   // backups, restores, exports and imports
	PermAdminAudit    Permission = "admin:audit"    // read the audit trail
	PermAdminOps      Permission = "admin:ops"      // detailed health report, alerts
)

// AllPermissions lists every permission, in a stable order.
var AllPermissions = []Permission{
	PermContextsRead, PermContextsWrite, PermMemoriesRead, PermMemoriesWrite, PermSearch,
	PermAdminKeys, PermAdminBackup, PermAdminAudit, PermAdminOps,
}

var rolePermissions = map[Role][]Permission{
	RoleReader: {PermContextsRead, PermMemoriesRead, PermSearch},
	RoleWriter: {PermContextsRead, PermContextsWrite, PermMemoriesRead, PermMemoriesWrite, PermSearch},
	RoleAdmin:  AllPermissions,
}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { return slices.Contains(AllPermissions, p) }

// Permissions returns the permissions the role grants (nil for an unknown
// role). The slice must not be modified.
func (r Role) Permissions() []Permission { return rolePermissions[r] }

// Grants reports whether the role grants p.
func (r Role) Grants(p Permission) bool { return slices.Contains(rolePermissions[r], p) }

// MinimumRole is the weakest role that grants p ("" for an unknown p).
func MinimumRole(p Permission) Role {
	for _, r := range []Role{RoleReader, RoleWriter, RoleAdmin} {
		if r.Grants(p) {
			return r
		}
	}
	return ""
}

// ParsePermissions reads a list of permissions, space- or comma-separated
// (the form of a JWT "scope" claim and of the --scopes flag). It returns them
// sorted without duplicates; an empty string gives nil.
func ParsePermissions(s string) ([]Permission, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	out := make([]Permission, 0, len(fields))
	for _, f := range fields {
		out = append(out, Permission(f))
	}
	return NormalizePermissions(out, "scopes")
}

// NormalizePermissions checks every permission and returns the list sorted
// in AllPermissions order without duplicates; nil or empty gives nil. loc
// names the field in the error.
func NormalizePermissions(ps []Permission, loc string) ([]Permission, error) {
	if len(ps) == 0 {
		return nil, nil
	}
	for i, p := range ps {
		if !p.Valid() {
			return nil, Invalid(loc+"["+itoa(i)+"]", "unknown permission %q; known: %s", p, JoinPermissions(AllPermissions, ", "))
		}
	}
	out := make([]Permission, 0, len(ps))
	for _, p := range AllPermissions {
		if slices.Contains(ps, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// CheckPermissions refuses a narrowing that names a permission the role
// does not grant (a reader key cannot be given "contexts:write").
func CheckPermissions(role Role, ps []Permission, loc string) error {
	for _, p := range ps {
		if !role.Grants(p) {
			return Invalid(loc, "the %s role does not grant %q", role, p)
		}
	}
	return nil
}

// SplitPermissions reads the stored form of a key's scopes, permissions
// separated by spaces ("" for none), as the stores keep it.
func SplitPermissions(s string) []Permission {
	var out []Permission
	for _, f := range strings.Fields(s) {
		out = append(out, Permission(f))
	}
	return out
}

// JoinPermissions joins permissions with sep.
func JoinPermissions(ps []Permission, sep string) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = string(p)
	}
	return strings.Join(s, sep)
}

// Permissions returns what the principal may do: its role's permissions,
// narrowed to its Scopes when it has any.
func (p *Principal) Permissions() []Permission {
	if p == nil {
		return nil
	}
	if p.Scopes == nil {
		return p.Role.Permissions()
	}
	out := make([]Permission, 0, len(p.Scopes))
	for _, x := range p.Scopes {
		if p.Role.Grants(x) {
			out = append(out, x)
		}
	}
	return out
}

// Can reports whether the principal holds permission need.
func (p *Principal) Can(need Permission) bool {
	if p == nil || !p.Role.Grants(need) {
		return false
	}
	return p.Scopes == nil || slices.Contains(p.Scopes, need)
}

// Need returns EUNAUTHORIZED for no principal and EFORBIDDEN unless the
// principal holds permission need.
func (p *Principal) Need(need Permission) error {
	if p == nil {
		return Errorf(EUNAUTHORIZED, "credentials required")
	}
	if !p.Role.Grants(need) {
		return Errorf(EFORBIDDEN, "this action needs the %s permission (the %s role or above); the credential has the %s role", need, MinimumRole(need), p.Role)
	}
	if p.Scopes != nil && !slices.Contains(p.Scopes, need) {
		return Errorf(EFORBIDDEN, "this action needs the %s permission; the credential is limited to: %s", need, JoinPermissions(p.Scopes, " "))
	}
	return nil
}

// Covers reports whether the principal holds every permission of a
// credential with role r narrowed to scopes (nil: the whole role): a
// principal may only hand out what it has itself.
func (p *Principal) Covers(r Role, scopes []Permission) bool {
	want := scopes
	if want == nil {
		want = r.Permissions()
	}
	for _, x := range want {
		if !p.Can(x) {
			return false
		}
	}
	return true
}
