import type { ApiKeyGate } from "../../server/api-key-auth.js";
import { consumerRoute } from "../../server/compat/consumer-route.js";
import { gatedRoute } from "../../server/freshness.js";
import { ConsumerUsers } from "../../domain/users/consumer.js";
import { UserDeletion } from "../../domain/users/deletion.js";
import { UserDirectory } from "../../domain/users/directory.js";
import { LoginGuard } from "../../domain/users/login-guard.js";
import { PasswordChanges } from "../../domain/users/password-change.js";
import { Sessions } from "../../domain/users/sessions.js";
import { Users } from "../../domain/users/users.js";
import { ConsumerPrivateService } from "../../services/consumer-private-service.js";
import { UsersPrivateService } from "../../services/users-private-service.js";
import { UsersService } from "../../services/users-service.js";
import type { Kernel } from "../kernel.js";
import type { FeatureModule } from "../module.js";
import type { TokensModule } from "./tokens.js";

/** Registered users (login), consumer users (seed 003), the user directory and deletion. */
export interface UsersModule extends FeatureModule {
  readonly usersPrivate: UsersPrivateService;
  readonly users: UsersService;
  readonly consumerPrivate: ConsumerPrivateService;
}

/** Builds the user services and seed 003's REST route. */
export function usersModule(k: Kernel, tokens: Pick<TokensModule, "userTokens">, apiKeyGate: ApiKeyGate): UsersModule {
  const { clock, sink, transact, stores } = k;
  const { userTokens } = tokens;
  const userTokenOptions = { tokenTtlSeconds: k.config.userTokenTtlSeconds };
  const sessions = sessionsOf(k, userTokens);
  const loginOptions = {
    accessTtlSeconds: k.config.accessTokenTtlSeconds,
    sessionTtlSeconds: k.config.sessionTtlSeconds,
  };
  // One guard: a wrong old password at ChangePassword counts as a failed login.
  const guard = loginGuard(k);
  const users = new Users(stores.users, sessions, loginOptions, clock, transact, guard);
  const passwords = new PasswordChanges({ store: stores.users, sessions, transact, sink, clock, guard });
  const consumers = new ConsumerUsers(
    stores.users,
    stores.memberships,
    userTokens,
    userTokenOptions,
    clock,
    sink,
    transact,
    sessions,
  );
  const userDirectory = new UserDirectory({ store: stores.userDirectory, transact, sink, clock, sessions });
  const userDeletion = new UserDeletion({
    store: stores.userDirectory,
    revocationStore: stores.moderation,
    memberships: stores.memberships,
    transact,
    sink,
    clock,
  });
  return {
    usersPrivate: new UsersPrivateService(users, userTokens, k.fresh, userDirectory, userDeletion, sessions, passwords),
    users: new UsersService(users, sessions, passwords),
    consumerPrivate: new ConsumerPrivateService(consumers),
    routes: [gatedRoute(consumerRoute(consumers, apiKeyGate), k.consistency.gate)],
  };
}

function sessionsOf(k: Kernel, userTokens: TokensModule["userTokens"]): Sessions {
  const c = k.config;
  return new Sessions({
    store: k.stores.sessions,
    revocationStore: k.stores.moderation,
    revocations: k.live.revocations,
    tokens: userTokens,
    transact: k.transact,
    sink: k.sink,
    clock: k.clock,
    options: {
      accessTtlSeconds: c.accessTokenTtlSeconds,
      sessionTtlSeconds: c.sessionTtlSeconds,
      longestTokenTtlSeconds: Math.max(c.accessTokenTtlSeconds, c.userTokenTtlSeconds),
    },
  });
}

function loginGuard(k: Kernel): LoginGuard {
  const c = k.config;
  return new LoginGuard(
    {
      failuresPerMinute: c.loginFailuresPerMinute,
      accountFailuresPerMinute: c.loginAccountFailuresPerMinute,
      attemptsPerMinutePerAddress: c.loginAttemptsPerMinutePerAddress,
      attemptsPerSecondPerTenant: c.loginAttemptsPerSecondPerTenant,
      knownAddressDays: c.loginKnownAddressDays,
    },
    k.clock,
    // Failed logins per account hold across every replica together.
    k.stores.sharedBucket(
      "login-account",
      c.loginAccountFailuresPerMinute / 60,
      c.loginAccountFailuresPerMinute,
      k.clock,
    ),
  );
}
