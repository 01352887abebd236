#!/usr/bin/env node
// Evaluates a matrix of IAM probes with @cloud-copilot/iam-simulate, an IAM evaluator independent of AWS and of
// this project. A test tool only (AGPL-3.0-or-later), installed by `ensure_iam_simulate` (scripts/lib.sh) into
// the project cache; it is never part of what the project ships or deploys.
//
// Usage: node tests/iam/evaluate.mjs PROBES.json
//   FLEET_IAM_SIMULATE_DIR: the directory whose node_modules holds the evaluator (ensure_iam_simulate sets it;
//   default: this directory).
//
// PROBES.json: {"documents": {NAME: policy document, ...}, "probes": [PROBE, ...]}, a PROBE being
//   {"name", "principal" (ARN), "action", "resource" (ARN), "resource_account"?, "context"?: {key: value},
//    "identity_policies"?: [NAME], "resource_policy"?: NAME, "boundary"?: [NAME], "scps"?: [NAME],
//    "endpoint_policies"?: [NAME], "expected": "allow" | "deny", "not_modelled"?: "why"}
// Policies are named, so that each document is written once and every probe names the real ones it takes.
//
// Prints one line per probe (expected, actual, why) and the counts; exits 1 on any mismatch or evaluation
// error. A probe is "not modelled" (counted apart, never as a pass) when it says so itself, or when the
// evaluator drops a context key it was given as not applying to the action: its decision would not show what
// the probe is about.

import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const moduleRoot = process.env.FLEET_IAM_SIMULATE_DIR || here
const require = createRequire(join(moduleRoot, 'package.json'))
const { runSimulation } = await import(pathToFileURL(require.resolve('@cloud-copilot/iam-simulate')).href)

const FULL_AWS_ACCESS = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'FullAWSAccess', Effect: 'Allow', Action: '*', Resource: '*' }]
}

function accountOf(arn) {
  return arn.split(':')[4] || ''
}

function documentsNamed(documents, names, probe) {
  return (names || []).map((name) => {
    if (!(name in documents)) throw new Error(`probe "${probe}": no document named "${name}"`)
    return { name, policy: documents[name] }
  })
}

function simulationOf(documents, probe) {
  const principalAccount = accountOf(probe.principal)
  // The evaluator does not derive these from the principal (its README: not yet); IAM always sets them.
  const context = {
    'aws:PrincipalArn': probe.principal,
    'aws:PrincipalAccount': principalAccount,
    'aws:SecureTransport': 'true',
    ...(probe.context || {})
  }
  const scps = documentsNamed(documents, probe.scps, probe.name)
  const resourcePolicy = probe.resource_policy ? documentsNamed(documents, [probe.resource_policy], probe.name)[0].policy : undefined
  return {
    request: {
      principal: probe.principal,
      action: probe.action,
      resource: { resource: probe.resource, accountId: probe.resource_account || accountOf(probe.resource) || principalAccount },
      contextVariables: context
    },
    identityPolicies: documentsNamed(documents, probe.identity_policies, probe.name),
    // An organization's root carries FullAWSAccess; the fleet's SCP sits below it, on the account.
    serviceControlPolicies: scps.length
      ? [
          { orgIdentifier: 'r-root', policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }] },
          { orgIdentifier: principalAccount, policies: [{ name: 'FullAWSAccess', policy: FULL_AWS_ACCESS }, ...scps] }
        ]
      : [],
    resourceControlPolicies: [],
    resourcePolicy,
    permissionBoundaryPolicies: probe.boundary && probe.boundary.length ? documentsNamed(documents, probe.boundary, probe.name) : undefined,
    vpcEndpointPolicies: probe.endpoint_policies && probe.endpoint_policies.length ? documentsNamed(documents, probe.endpoint_policies, probe.name) : undefined
  }
}

const DECISIONS = { Allowed: 'allow', ExplicitlyDenied: 'deny', ImplicitlyDenied: 'deny' }

async function evaluate(documents, probe) {
  const response = await runSimulation(simulationOf(documents, probe), {})
  if (response.resultType === 'error') {
    return { error: response.errors.message + ' ' + JSON.stringify(response.errors) }
  }
  if (response.resultType !== 'single') {
    return { error: `a ${response.resultType} result: give one resource ARN, not a pattern` }
  }
  const actual = DECISIONS[response.overallResult]
  if (!actual) return { error: `unknown result ${response.overallResult}` }
  const detail = response.overallResult === 'ExplicitlyDenied' ? 'explicit' : response.overallResult === 'ImplicitlyDenied' ? 'implicit' : ''
  return { actual, detail, ignored: response.result?.ignoredContextKeys || [] }
}

async function main() {
  const file = process.argv[2]
  if (!file) {
    console.error('usage: evaluate.mjs PROBES.json')
    process.exit(2)
  }
  const { documents = {}, probes = [] } = JSON.parse(readFileSync(file, 'utf8'))
  const counts = { probes: 0, allowed: 0, denied: 0, not_modelled: 0, mismatches: 0 }
  const width = Math.max(...probes.map((p) => p.name.length), 10)
  console.log(`${'probe'.padEnd(width)}  expected  actual           result`)
  for (const probe of probes) {
    counts.probes += 1
    let outcome
    try {
      outcome = await evaluate(documents, probe)
    } catch (error) {
      outcome = { error: String(error) }
    }
    let result
    const actual = outcome.error ? 'error' : `${outcome.actual}${outcome.detail ? ` (${outcome.detail})` : ''}`
    if (!outcome.error) counts[outcome.actual === 'allow' ? 'allowed' : 'denied'] += 1
    const notModelled = probe.not_modelled
      ? probe.not_modelled
      : !outcome.error && outcome.ignored.length
        ? `the evaluator ignores ${outcome.ignored.join(', ')} for ${probe.action}`
        : null
    if (notModelled) {
      counts.not_modelled += 1
      result = `NOT MODELLED: ${notModelled}`
    } else if (outcome.error) {
      counts.mismatches += 1
      result = `MISMATCH: ${outcome.error}`
    } else if (outcome.actual !== probe.expected) {
      counts.mismatches += 1
      result = 'MISMATCH'
    } else {
      result = 'ok'
    }
    console.log(`${probe.name.padEnd(width)}  ${probe.expected.padEnd(8)}  ${actual.padEnd(15)}  ${result}`)
  }
  console.log(
    `probes=${counts.probes} allowed=${counts.allowed} denied=${counts.denied} not_modelled=${counts.not_modelled} mismatches=${counts.mismatches}`
  )
  process.exit(counts.mismatches === 0 && counts.probes > 0 ? 0 : 1)
}

await main()
