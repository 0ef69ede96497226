"""Every string of the dashboard, French first; another language may add its own table."""

from __future__ import annotations

__all__ = ["STRINGS", "admin_translator"]

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Tableau de bord",
        "nav_runs": "Campagnes", "nav_schedule": "Planning", "nav_lists": "Listes",
        "nav_subscribers": "Abonnés", "nav_audit": "Journal", "logout": "Se déconnecter",
        "login_title": "Connexion", "username": "Identifiant", "password": "Mot de passe",
        "login_button": "Se connecter", "login_failed": "Identifiant ou mot de passe incorrect.",
        "runs_title": "Campagnes d'envoi", "runs_empty": "Aucun envoi pour l'instant.",
        "run": "Envoi", "issue": "Numéro", "list": "Liste", "state": "État",
        "progress": "Progression", "created": "Créé le", "report": "Rapport",
        "live": "Cette page se met à jour toutes les 5 secondes pendant l'envoi.",
        "schedule_title": "Planning", "upcoming": "Prochains envois", "missed": "Envois manqués",
        "none": "Aucun.", "when": "Quand", "what": "Quoi", "publication": "Publication",
        "lists_title": "Listes", "subscribers_title": "Abonnés",
        "search": "Rechercher une adresse", "search_button": "Rechercher",
        "no_result": "Aucun abonné ne correspond.", "results": "Résultats",
        "subscriptions": "Abonnements", "history": "Historique", "consent": "Consentement",
        "export": "Exporter ses données (RGPD, droit d'accès)",
        "unsubscribe": "Désinscrire de cette liste",
        "forget": "Effacer cette personne (RGPD, droit à l'effacement)",
        "forget_title": "Effacer une personne",
        "forget_lead": "Toutes les données de cette personne seront supprimées. Seule une "
                       "empreinte de son adresse est gardée pour respecter son opposition. "
                       "Cette action est définitive.",
        "forget_confirm": "Pour confirmer, saisissez l'adresse",
        "forget_button": "Effacer définitivement",
        "forget_mismatch": "L'adresse saisie ne correspond pas : rien n'a été effacé.",
        "forget_done": "Personne effacée. Seule l'empreinte {hash}… est conservée.",
        "unsubscribed_done": "Désinscription enregistrée.",
        "audit_title": "Journal des actions", "who": "Qui", "action": "Action",
        "subject": "Sur", "detail": "Détail",
        "forbidden": "Votre rôle ne permet pas cette action.",
        "role_editor": "lecture", "role_admin": "administration",
    },
    "en": {
        "title": "Dashboard", "nav_runs": "Runs", "nav_schedule": "Schedule",
        "nav_lists": "Lists", "nav_subscribers": "Subscribers", "nav_audit": "Audit log",
        "logout": "Log out", "login_title": "Log in", "username": "User name",
        "password": "Password", "login_button": "Log in",
        "login_failed": "Wrong user name or password.",
    },
}


def admin_translator(language: str):
    """``t(key, **values)`` in ``language``, falling back to French."""
    table = STRINGS.get(language, {})

    def t(key: str, **values: object) -> str:
        text = table.get(key) or STRINGS["fr"][key]
        return text.format(**values) if values else text

    return t
