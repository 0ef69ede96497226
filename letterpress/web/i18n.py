"""Every string a reader sees on the web pages and in the mails they trigger, keyed by language.

French first (the reference publication); English as a second, complete translation so a
publication configured with ``language = "en"`` reads naturally.  Missing keys fall back to
French, never to the key itself.
"""

from __future__ import annotations

__all__ = ["DEFAULT_LANGUAGE", "STRINGS", "gettext", "translator"]

DEFAULT_LANGUAGE = "fr"

STRINGS: dict[str, dict[str, str]] = {
    "fr": {
        "skip": "Aller au contenu",
        "footer_managed": "Vos données ne sont utilisées que pour l'envoi de cette lettre.",
        "footer_archive": "Les lettres précédentes",
        "footer_subscribe": "S'abonner",
        # error pages
        "not_found_title": "Lien introuvable",
        "not_found_text": "Ce lien n'est pas valide. Il a peut-être été coupé ou modifié : "
                          "copiez l'adresse complète depuis le message reçu.",
        "bad_request_title": "Demande invalide",
        "bad_request_text": "Cette demande n'a pas pu être traitée.",
        "csrf_title": "Formulaire expiré",
        "csrf_text": "Ce formulaire a expiré ou n'a pas été envoyé depuis ce site. "
                     "Rechargez la page et recommencez.",
        "rate_title": "Trop de demandes",
        "rate_text": "Trop de demandes en peu de temps. Merci de réessayer dans quelques minutes.",
        "server_error_title": "Erreur",
        "server_error_text": "Une erreur est survenue. Merci de réessayer plus tard.",
        "method_title": "Méthode non autorisée",
        "back_home": "Retour à l'accueil de la lettre",
        # unsubscribe
        "unsub_title": "Se désinscrire",
        "unsub_lead": "Vous êtes sur le point de vous désinscrire de la lettre :",
        "unsub_address": "Adresse concernée",
        "unsub_list": "Liste",
        "unsub_button": "Confirmer la désinscription",
        "unsub_already": "Cette adresse est déjà désinscrite de cette lettre.",
        "unsub_done_title": "Désinscription confirmée",
        "unsub_done_text": "Vous ne recevrez plus cette lettre à l'adresse {email}. "
                           "La désinscription prend effet immédiatement.",
        "unsub_onclick_text": "Vous êtes désinscrit(e) de cette lettre.",
        "reason_legend": "Pour nous aider à nous améliorer (facultatif)",
        "reason_label": "Pourquoi vous désinscrivez-vous ?",
        "reason_none": "Je préfère ne pas répondre",
        "reason_too_many": "Je reçois trop de messages",
        "reason_not_relevant": "Le contenu ne m'intéresse plus",
        "reason_never_asked": "Je ne me suis jamais inscrit(e)",
        "reason_other": "Autre raison",
        "reason_button": "Envoyer",
        "reason_thanks": "Merci pour votre réponse.",
        "resub_lead": "Vous vous êtes désinscrit(e) par erreur ?",
        "resub_button": "Se réabonner",
        "resub_title": "Se réabonner",
        "resub_page_lead": "Recevoir de nouveau la lettre :",
        "resub_already": "Cette adresse reçoit déjà la lettre.",
        "resub_done_title": "Réabonnement confirmé",
        "resub_done_text": "Vous recevrez de nouveau la lettre à l'adresse {email}.",
        "resub_expired": "Ce lien de réabonnement a expiré. Vous pouvez vous réabonner avec "
                         "le formulaire d'inscription.",
        "resub_consent": "Réabonnement demandé depuis la page de désinscription.",
        # subscribe
        "sub_title": "S'abonner",
        "sub_lead": "Recevez la lettre dans votre boîte de réception.",
        "sub_email": "Adresse électronique",
        "sub_email_hint": "Format attendu : nom@domaine.fr",
        "sub_name": "Nom",
        "sub_optional": "facultatif",
        "sub_list": "Lettres",
        "sub_honeypot": "Ne remplissez pas ce champ",
        "sub_consent_default": "J'accepte de recevoir cette lettre d'information. "
                               "Je pourrai me désinscrire à tout moment.",
        "sub_button": "Je m'abonne",
        "sub_notice_title": "Informatique et libertés",
        "sub_err_email": "Indiquez une adresse électronique valide.",
        "sub_err_consent": "Cochez la case pour accepter de recevoir la lettre.",
        "sub_err_title": "Le formulaire contient des erreurs",
        "sub_err_disposable": "Les adresses jetables ne sont pas acceptées : indiquez une "
                              "adresse que vous consultez.",
        "sub_pow_nojs": "Sans JavaScript, le formulaire peut être envoyé {seconds} secondes "
                        "après l'affichage de cette page (une protection contre les robots).",
        "sub_pow_solving": "Vérification anti-robot en cours…",
        "sub_pow_done": "Vérification anti-robot terminée.",
        "sub_pow_waiting": "Encore un instant : la vérification anti-robot se termine, puis "
                           "le formulaire est envoyé.",
        "sub_pow_wait_title": "Encore quelques secondes",
        "sub_pow_wait": "Pour vérifier que vous n'êtes pas un robot, patientez {seconds} "
                        "secondes, puis envoyez de nouveau le formulaire : vos réponses sont "
                        "conservées.",
        "sub_sent_title": "Vérifiez votre boîte de réception",
        "sub_sent_text": "Si l'adresse {email} peut recevoir la lettre, un message vient de lui "
                         "être envoyé. Cliquez sur le lien qu'il contient pour confirmer votre "
                         "inscription. Pensez à regarder dans les indésirables.",
        # confirmation mail
        "mail_confirm_subject": "Confirmez votre inscription à « {publication} »",
        "mail_confirm_text": "Bonjour,\n\nPour recevoir « {publication} », confirmez votre "
                             "inscription en ouvrant ce lien :\n\n{url}\n\nSi vous n'avez rien "
                             "demandé, ignorez ce message : vous ne recevrez rien.\n\n"
                             "{sender}\n",
        "mail_confirm_button": "Confirmer mon inscription",
        "mail_reminder_subject": "Rappel : confirmez votre inscription à « {publication} »",
        "mail_reminder_text": "Bonjour,\n\nVous avez demandé à recevoir « {publication} », "
                              "mais votre inscription n'est pas encore confirmée. Pour la "
                              "confirmer, ouvrez ce lien :\n\n{url}\n\nC'est le seul rappel "
                              "que nous vous enverrons : sans confirmation, votre demande sera "
                              "supprimée. Si vous n'avez rien demandé, ignorez ce message.\n\n"
                              "{sender}\n",
        "mail_resub_subject": "Recevoir de nouveau « {publication} »",
        "mail_resub_text": "Bonjour,\n\nCette adresse s'était désinscrite de « {publication} ». "
                           "Pour la recevoir de nouveau, ouvrez ce lien et confirmez :\n\n"
                           "{url}\n\nSi vous n'avez rien demandé, ignorez ce message : "
                           "rien ne changera.\n\n{sender}\n",
        "mail_active_subject": "Votre inscription à « {publication} »",
        "mail_active_text": "Bonjour,\n\nCette adresse est déjà inscrite à « {publication} ». "
                            "Vous pouvez gérer vos préférences ici :\n\n{url}\n\n"
                            "Si vous n'avez rien demandé, ignorez ce message.\n\n{sender}\n",
        # confirm
        "confirm_title": "Confirmer l'inscription",
        "confirm_lead": "Confirmez votre inscription à la lettre :",
        "confirm_button": "Confirmer mon inscription",
        "confirm_done_title": "Inscription confirmée",
        "confirm_done_text": "Merci ! Vous recevrez la prochaine lettre à l'adresse {email}.",
        "confirm_expired_title": "Lien de confirmation expiré",
        "confirm_expired_text": "Ce lien de confirmation a expiré : il n'est valable que "
                                "{days} jours. Inscrivez-vous de nouveau avec le formulaire ; "
                                "un nouveau lien vous sera envoyé.",
        "confirm_expired_link": "Revenir au formulaire d'inscription",
        "confirm_not_pending": "Cette inscription n'est plus en attente de confirmation.",
        # preferences
        "prefs_title": "Vos préférences",
        "prefs_lead": "Gérez vos abonnements pour l'adresse {email}.",
        "prefs_lists": "Lettres reçues",
        "prefs_details": "Vos informations",
        "prefs_save": "Enregistrer",
        "prefs_saved": "Vos préférences ont été enregistrées.",
        "prefs_unsub_all": "Me désinscrire de tout",
        "prefs_unsub_all_lead": "Vous ne souhaitez plus rien recevoir ?",
        "prefs_unsub_all_done": "Vous êtes désinscrit(e) de toutes les lettres.",
        "prefs_consent": "Abonnement choisi depuis la page de préférences.",
        # archive
        "archive_title": "Les lettres",
        "archive_lead": "Toutes les lettres déjà parues.",
        "archive_empty": "Aucune lettre n'a encore été publiée.",
        "archive_segment": "Envoyée à une partie des abonnés : {names}",
        "archive_number": "Lettre n° {number}",
        "archive_feed": "S'abonner au flux Atom",
        "archive_back": "Toutes les lettres",
    },
    "en": {
        "skip": "Skip to content",
        "footer_managed": "Your data is only used to send this newsletter.",
        "footer_archive": "Past issues",
        "footer_subscribe": "Subscribe",
        "not_found_title": "Link not found",
        "not_found_text": "This link is not valid. It may have been cut or altered: copy the "
                          "full address from the message you received.",
        "bad_request_title": "Invalid request",
        "bad_request_text": "This request could not be processed.",
        "csrf_title": "Form expired",
        "csrf_text": "This form expired or was not sent from this site. Reload the page and "
                     "try again.",
        "rate_title": "Too many requests",
        "rate_text": "Too many requests in a short time. Please try again in a few minutes.",
        "server_error_title": "Error",
        "server_error_text": "Something went wrong. Please try again later.",
        "method_title": "Method not allowed",
        "back_home": "Back to the newsletter",
        "unsub_title": "Unsubscribe",
        "unsub_lead": "You are about to unsubscribe from:",
        "unsub_address": "Address",
        "unsub_list": "List",
        "unsub_button": "Confirm unsubscribe",
        "unsub_already": "This address is already unsubscribed from this newsletter.",
        "unsub_done_title": "You are unsubscribed",
        "unsub_done_text": "You will no longer receive this newsletter at {email}. "
                           "This takes effect immediately.",
        "unsub_onclick_text": "You are unsubscribed from this newsletter.",
        "reason_legend": "Help us improve (optional)",
        "reason_label": "Why are you unsubscribing?",
        "reason_none": "I'd rather not say",
        "reason_too_many": "I get too many emails",
        "reason_not_relevant": "The content no longer interests me",
        "reason_never_asked": "I never signed up",
        "reason_other": "Another reason",
        "reason_button": "Send",
        "reason_thanks": "Thank you for your answer.",
        "resub_lead": "Unsubscribed by mistake?",
        "resub_button": "Resubscribe",
        "resub_title": "Resubscribe",
        "resub_page_lead": "Receive the newsletter again:",
        "resub_already": "This address already receives the newsletter.",
        "resub_done_title": "You are subscribed again",
        "resub_done_text": "You will receive the newsletter again at {email}.",
        "resub_expired": "This resubscribe link has expired. You can subscribe again with "
                         "the subscription form.",
        "resub_consent": "Resubscribed from the unsubscribe page.",
        "sub_title": "Subscribe",
        "sub_lead": "Get the newsletter in your inbox.",
        "sub_email": "Email address",
        "sub_email_hint": "Expected format: name@example.org",
        "sub_name": "Name",
        "sub_optional": "optional",
        "sub_list": "Newsletters",
        "sub_honeypot": "Leave this field empty",
        "sub_consent_default": "I agree to receive this newsletter. I can unsubscribe at any "
                               "time.",
        "sub_button": "Subscribe",
        "sub_notice_title": "Privacy notice",
        "sub_err_email": "Enter a valid email address.",
        "sub_err_consent": "Tick the box to agree to receive the newsletter.",
        "sub_err_disposable": "Throw-away addresses are not accepted: give an address you read.",
        "sub_pow_nojs": "Without JavaScript, the form can be sent {seconds} seconds after "
                        "this page was shown (a protection against robots).",
        "sub_pow_solving": "Checking you are not a robot…",
        "sub_pow_done": "Robot check done.",
        "sub_pow_waiting": "One moment: the robot check is finishing, then the form is sent.",
        "sub_pow_wait_title": "A few more seconds",
        "sub_pow_wait": "To check you are not a robot, wait {seconds} seconds, then send the "
                        "form again: your answers are kept.",
        "sub_err_title": "The form has errors",
        "sub_sent_title": "Check your inbox",
        "sub_sent_text": "If {email} can receive the newsletter, a message has just been sent "
                         "to it. Open the link inside to confirm your subscription. Check your "
                         "spam folder too.",
        "mail_confirm_subject": "Confirm your subscription to “{publication}”",
        "mail_confirm_text": "Hello,\n\nTo receive “{publication}”, confirm your subscription "
                             "by opening this link:\n\n{url}\n\nIf you did not ask for it, "
                             "ignore this message: you will receive nothing.\n\n{sender}\n",
        "mail_confirm_button": "Confirm my subscription",
        "mail_reminder_subject": "Reminder: confirm your subscription to “{publication}”",
        "mail_reminder_text": "Hello,\n\nYou asked to receive “{publication}”, but your "
                              "subscription is not confirmed yet. To confirm it, open this "
                              "link:\n\n{url}\n\nThis is the only reminder we will send: "
                              "without confirmation, your request will be deleted. If you did "
                              "not ask for anything, ignore this message.\n\n{sender}\n",
        "mail_resub_subject": "Receive “{publication}” again",
        "mail_resub_text": "Hello,\n\nThis address had unsubscribed from “{publication}”. To "
                           "receive it again, open this link and confirm:\n\n{url}\n\n"
                           "If you did not ask for anything, ignore this message: nothing "
                           "will change.\n\n{sender}\n",
        "mail_active_subject": "Your subscription to “{publication}”",
        "mail_active_text": "Hello,\n\nThis address is already subscribed to “{publication}”. "
                            "You can manage your preferences here:\n\n{url}\n\n"
                            "If you did not ask for anything, ignore this message.\n\n{sender}\n",
        "confirm_title": "Confirm your subscription",
        "confirm_lead": "Confirm your subscription to:",
        "confirm_button": "Confirm my subscription",
        "confirm_done_title": "Subscription confirmed",
        "confirm_done_text": "Thank you! You will receive the next issue at {email}.",
        "confirm_expired_title": "Confirmation link expired",
        "confirm_expired_text": "This confirmation link has expired: it is valid for {days} "
                                "days. Subscribe again with the form; a new link will be sent.",
        "confirm_expired_link": "Back to the subscription form",
        "confirm_not_pending": "This subscription is no longer waiting for confirmation.",
        "prefs_title": "Your preferences",
        "prefs_lead": "Manage your subscriptions for {email}.",
        "prefs_lists": "Newsletters you receive",
        "prefs_details": "Your details",
        "prefs_save": "Save",
        "prefs_saved": "Your preferences were saved.",
        "prefs_unsub_all": "Unsubscribe from everything",
        "prefs_unsub_all_lead": "Don't want to receive anything any more?",
        "prefs_unsub_all_done": "You are unsubscribed from every newsletter.",
        "prefs_consent": "Subscription chosen on the preferences page.",
        "archive_title": "Past issues",
        "archive_lead": "Every issue published so far.",
        "archive_empty": "No issue has been published yet.",
        "archive_segment": "Sent to part of the subscribers: {names}",
        "archive_number": "Issue #{number}",
        "archive_feed": "Atom feed",
        "archive_back": "All issues",
    },
}


def gettext(language: str, key: str, **values: object) -> str:
    """The reader-facing string ``key`` in ``language`` (French when missing), formatted."""
    table = STRINGS.get(language) or STRINGS[DEFAULT_LANGUAGE]
    text = table.get(key)
    if text is None:
        text = STRINGS[DEFAULT_LANGUAGE][key]
    return text.format(**values) if values else text


def translator(language: str):
    """A one-argument-plus-values function bound to ``language``, for templates."""

    def _(key: str, **values: object) -> str:
        return gettext(language, key, **values)

    return _
