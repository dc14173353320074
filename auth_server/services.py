"""The process's long-lived objects, built once from the settings."""

from __future__ import annotations

from dataclasses import dataclass

from auth_server.accounts import Accounts
from auth_server.administration import Administration
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.db import Database
from auth_server.erasure import Erasure
from auth_server.invitations import Invitations
from auth_server.keys import KeyStore
from auth_server.login import Login
from auth_server.mail_delivery import MailDelivery
from auth_server.mailer import Mailer
from auth_server.mfa.challenges import MfaChallenges
from auth_server.mfa.enrolment import MfaEnrolment
from auth_server.mfa.factors import MfaFactors
from auth_server.mfa.recovery_codes import RecoveryCodes
from auth_server.mfa.secret_box import SecretBox
from auth_server.mfa.totp import TotpFactors
from auth_server.mfa.verification import MfaVerification
from auth_server.oidc.provider import OidcProvider
from auth_server.organizations import Organizations
from auth_server.outbox import MailOutbox
from auth_server.passkeys.service import Passkeys
from auth_server.password_flows import PasswordFlows
from auth_server.passwords import Passwords
from auth_server.ratelimit import Lockout, RateLimits
from auth_server.recovery import PasswordRecovery
from auth_server.registration import Registration
from auth_server.revocation_notify import CrossProcessWakeups, listener_for
from auth_server.revocation_waiters import WaitingFeed, Wakeups
from auth_server.revocations import RevocationPublisher, Revocations
from auth_server.self_service import SelfService
from auth_server.service_auth import ServiceCredentials
from auth_server.sessions import Sessions
from auth_server.tokens import AccessTokens


@dataclass
class Services:
    settings: Settings
    database: Database
    keys: KeyStore
    tokens: AccessTokens
    passwords: Passwords
    mailer: Mailer
    outbox: MailOutbox
    mail_delivery: MailDelivery
    accounts: Accounts
    sessions: Sessions
    login: Login
    clock: Clock
    audit: AuditLog
    limits: RateLimits
    lockout: Lockout
    recovery: PasswordRecovery
    registration: Registration
    password_flows: PasswordFlows
    self_service: SelfService
    revocations: Revocations
    waiting_feed: WaitingFeed
    cross_process_wakeups: CrossProcessWakeups
    administration: Administration
    erasure: Erasure
    service_credentials: ServiceCredentials
    organizations: Organizations
    invitations: Invitations
    oidc: OidcProvider
    mfa: MfaFactors
    mfa_challenges: MfaChallenges
    mfa_enrolment: MfaEnrolment
    mfa_verification: MfaVerification
    passkeys: Passkeys

    @classmethod
    def build(cls, settings: Settings) -> Services:
        settings.check_production_ready()
        passwords = Passwords(
            time_cost=settings.argon2_time_cost,
            memory_kib=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        clock = Clock(settings)
        keys = KeyStore.from_settings(settings, clock=clock.now)
        tokens = AccessTokens(
            keys,
            settings.jwt_issuer,
            settings.jwt_audience,
            settings.access_token_ttl,
            iat_skew=settings.jwt_iat_skew,
            clock=clock.now,
        )
        mailer = Mailer(settings)
        outbox = MailOutbox(settings, clock)
        revocations = Revocations(settings, clock, RevocationPublisher(settings))
        sessions = Sessions(settings, clock, tokens, revocations)
        limits = RateLimits(settings)
        audit = AuditLog(clock)
        lockout = Lockout(settings, clock)
        database = Database(settings.auth_database_url)
        # Revocation events reach Redis after, and only after, their transaction commits.
        revocations.attach(database.session_factory)
        # ...and wake this process's waiting feed readers (other processes: NOTIFY/Redis).
        wakeups = Wakeups()
        revocations.committed_hooks.append(wakeups.wake_threadsafe)
        # Mail is written with its cause; delivery is woken once that commits.
        outbox.attach(database.session_factory)
        accounts = Accounts(settings, passwords, outbox)
        recovery = PasswordRecovery(settings, clock, passwords, sessions, outbox)
        invitations = Invitations(settings, clock, outbox, audit)
        mfa = MfaFactors()
        mfa_challenges = MfaChallenges(clock, mfa, lockout, audit)
        totp = TotpFactors(SecretBox.from_settings(settings), settings.mfa_issuer)
        recovery_codes = RecoveryCodes()
        return cls(
            settings=settings,
            database=database,
            keys=keys,
            tokens=tokens,
            passwords=passwords,
            mailer=mailer,
            outbox=outbox,
            mail_delivery=MailDelivery(outbox, mailer, database, settings.mail_poll_interval),
            accounts=accounts,
            sessions=sessions,
            login=Login(passwords, sessions, lockout, limits, audit),
            clock=clock,
            audit=audit,
            limits=limits,
            lockout=lockout,
            recovery=recovery,
            registration=Registration(accounts, invitations, limits, audit),
            password_flows=PasswordFlows(recovery, limits, lockout, audit),
            self_service=SelfService(sessions, audit),
            revocations=revocations,
            waiting_feed=WaitingFeed(revocations, database, wakeups),
            cross_process_wakeups=CrossProcessWakeups(wakeups, database, listener_for(settings)),
            administration=Administration(settings, clock, revocations, audit),
            erasure=Erasure(revocations, audit),
            service_credentials=ServiceCredentials.from_settings(settings),
            organizations=Organizations(clock, accounts, sessions, revocations, audit),
            invitations=invitations,
            oidc=OidcProvider(settings, clock, keys, tokens, sessions, revocations, audit),
            mfa=mfa,
            mfa_challenges=mfa_challenges,
            mfa_enrolment=MfaEnrolment(
                clock, mfa, totp, recovery_codes, passwords, lockout, revocations, outbox, audit
            ),
            mfa_verification=MfaVerification(
                clock, mfa, mfa_challenges, totp, recovery_codes, outbox, audit
            ),
            passkeys=Passkeys(settings, clock, limits, audit, mfa_challenges),
        )
