//! `fix_upload_owner`: uploaded files belong to the container's user.
//!
//! Packer copies files in as root, then runs `chown -R <user> <destination>` in the
//! container, where `<user>` is the container's configured user (`Config.User`,
//! root when empty). kiln writes the owner into the uploaded archive instead, which
//! takes no extra command; so the user's name is looked up in the container's own
//! `/etc/passwd` (and `/etc/group` for a `user:group` form), read through the
//! archive endpoint, which needs no shell or `id` in the image.
//!
//! As with Packer's `chown <user>`, only the owner changes: the group stays root's
//! unless the user is given as `user:group`.

/// The uid and gid for `user` (`name`, `uid`, `name:group`, `uid:gid`), from the
/// container's `passwd` and `group` files. Err says which name is unknown.
pub(crate) fn resolve(user: &str, passwd: &str, group: &str) -> Result<(u64, u64), String> {
    let user = user.trim();
    if user.is_empty() {
        return Ok((0, 0));
    }
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = match u.parse::<u64>() {
        Ok(n) => n,
        Err(_) => lookup(passwd, u).ok_or_else(|| {
            format!("the container's user {u:?} is not in its /etc/passwd, so uploads cannot be given to it (fix_upload_owner); set \"fix_upload_owner\": false or a numeric user")
        })?,
    };
    let gid = match g {
        None | Some("") => 0,
        Some(g) => match g.parse::<u64>() {
            Ok(n) => n,
            Err(_) => lookup(group, g).ok_or_else(|| {
                format!("the container's group {g:?} is not in its /etc/group (fix_upload_owner); set \"fix_upload_owner\": false or a numeric group")
            })?,
        },
    };
    Ok((uid, gid))
}

/// The third field (the numeric ID) of the `name:…` line of a passwd or group file.
fn lookup(file: &str, name: &str) -> Option<u64> {
    file.lines().find_map(|l| {
        let mut f = l.split(':');
        if f.next()? != name {
            return None;
        }
        f.nth(1)?.trim().parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\napp:x:1000:1000::/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:\napp:x:1000:\n";

    #[test]
    fn users_resolve_like_chown() {
        assert_eq!(resolve("", PASSWD, GROUP), Ok((0, 0)));
        assert_eq!(resolve("app", PASSWD, GROUP), Ok((1000, 0)));
        assert_eq!(resolve("app:staff", PASSWD, GROUP), Ok((1000, 50)));
        assert_eq!(resolve("1234", PASSWD, GROUP), Ok((1234, 0)));
        assert_eq!(resolve("1234:99", "", ""), Ok((1234, 99)));
        let e = resolve("ghost", PASSWD, GROUP).unwrap_err();
        assert!(e.contains("\"ghost\"") && e.contains("fix_upload_owner"), "{e}");
        assert!(resolve("app:nogroup", PASSWD, GROUP).unwrap_err().contains("/etc/group"));
    }
}
