package api

import (
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/gridedge/gridedge/hub/auth"
)

func (s *Server) login(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	var req struct {
		User     string `json:"user"`
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err != nil {
			return httpErrorf(http.StatusBadRequest, "invalid form body: %v", err)
		}
		req.User, req.Username, req.Email, req.Password = r.PostForm.Get("user"), r.PostForm.Get("username"), r.PostForm.Get("email"), r.PostForm.Get("password")
	} else if err := readJSON(r, &req); err != nil {
		return err
	}
	user := req.User
	if user == "" {
		user = req.Username
	}
	if user == "" {
		user = req.Email
	}
	if user == "" || req.Password == "" {
		return httpErrorf(http.StatusBadRequest, "login needs user and password")
	}
	var sess *auth.Session
	err := s.throttledPassword(r, user, func() (err error) {
		sess, err = s.Auth.Login(r.Context(), user, req.Password)
		return err
	})
	if err != nil {
		return err
	}
	return success(w, "", sess)
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	sess, err := s.Auth.Renew(r.Context(), p)
	if err != nil {
		return err
	}
	return success(w, "", sess)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if err := s.Auth.Logout(r.Context(), p); err != nil {
		return err
	}
	return success(w, "", map[string]any{"message": "You've been logged out!"})
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	if p.Kind == auth.KindApp {
		return success(w, "", map[string]any{"_id": p.ID, "kind": p.Kind, "admin": false, "grants": p.Grants})
	}
	u, err := s.Auth.User(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return success(w, "", u)
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	us, err := s.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	return success(w, "", us)
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var nu auth.NewUser
	if err := readJSON(r, &nu); err != nil {
		return err
	}
	generated := ""
	if nu.Password == "" {
		nu.Password = rand.Text()
		generated = nu.Password
	}
	u, err := s.Auth.AddUser(r.Context(), nu)
	if err != nil {
		return err
	}
	s.log().Info("user added", "user", u.ID, "by", p.ID)
	if generated != "" {
		return success(w, "User added", struct {
			*auth.User
			Password string `json:"password"`
		}{u, generated})
	}
	return success(w, "User added", u)
}

func (s *Server) getUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if !p.Admin && !(p.Kind == auth.KindUser && p.ID == id) {
		return httpErrorf(http.StatusForbidden, "only admins may see other users")
	}
	u, err := s.Auth.User(r.Context(), id)
	if err != nil {
		return err
	}
	return success(w, "", u)
}

func (s *Server) patchUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	var req struct {
		auth.UserUpdate
		// CurrentPassword is required when users change their own password.
		CurrentPassword string `json:"currentPassword"`
	}
	if err := readJSON(r, &req); err != nil {
		return err
	}
	upd := req.UserUpdate
	self := p.Kind == auth.KindUser && p.ID == id
	if !p.Admin {
		if p.Kind != auth.KindUser || p.ID != id {
			return httpErrorf(http.StatusForbidden, "only admins may change other users")
		}
		if upd.Admin != nil || upd.Grants != nil {
			return httpErrorf(http.StatusForbidden, "only admins may change roles and grants")
		}
	}
	if upd.Password != nil && self {
		// A stolen token alone must not take the account over.
		if req.CurrentPassword == "" {
			return httpErrorf(http.StatusForbidden, "changing your own password needs currentPassword")
		}
		if err := s.throttledPassword(r, id, func() error { return s.Auth.VerifyPassword(r.Context(), id, req.CurrentPassword) }); err != nil {
			return err
		}
	}
	u, err := s.Auth.UpdateUser(r.Context(), id, upd)
	if err != nil {
		return err
	}
	if upd.Password != nil && !self {
		s.log().Warn("audit: password reset by an admin", "user", id, "by", p.ID, "kind", p.Kind)
	}
	s.log().Info("user updated", "user", id, "by", p.ID)
	return success(w, "User updated", u)
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if err := s.Auth.DeleteUser(r.Context(), id); err != nil {
		return err
	}
	s.log().Info("user deleted", "user", id, "by", p.ID)
	return success(w, "User deleted", nil)
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, _ *auth.Principal) error {
	as, err := s.Auth.Apps(r.Context())
	if err != nil {
		return err
	}
	return success(w, "", as)
}

func (s *Server) addApp(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	var na auth.NewApp
	if err := readJSON(r, &na); err != nil {
		return err
	}
	k, err := s.Auth.AddApp(r.Context(), na, p.ID)
	if err != nil {
		return err
	}
	s.log().Info("app added", "app", k.AppID, "name", na.Name, "by", p.ID)
	return success(w, "App added", k)
}

func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request, p *auth.Principal) error {
	id := r.PathValue("id")
	if err := s.Auth.DeleteApp(r.Context(), id); err != nil {
		return err
	}
	s.log().Info("app deleted", "app", id, "by", p.ID)
	return success(w, "App deleted", nil)
}
