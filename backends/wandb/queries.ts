// This module is browser compatible.
//
// The GraphQL documents the W&B backend sends: the operations and fields of
// W&B's own client (wandb-core's `core/api/graphql/*.graphql`), kept minimal
// so older self-hosted servers accept them.

/** Who the key belongs to, and the default entity. */
export const VIEWER = `query Viewer {
  viewer { id entity username }
}`;

/** Create or update a run ("bucket"). */
export const UPSERT_BUCKET = `mutation UpsertBucket(
  $id: String, $name: String, $project: String, $entity: String, $groupName: String,
  $description: String, $displayName: String, $notes: String, $commit: String,
  $config: JSONString, $host: String, $debug: Boolean, $program: String, $repo: String,
  $jobType: String, $state: String, $sweep: String, $tags: [String!], $summaryMetrics: JSONString,
) {
  upsertBucket(input: {
    id: $id, name: $name, groupName: $groupName, modelName: $project, entityName: $entity,
    description: $description, displayName: $displayName, notes: $notes, config: $config,
    commit: $commit, host: $host, debug: $debug, jobProgram: $program, jobRepo: $repo,
    jobType: $jobType, state: $state, sweep: $sweep, tags: $tags, summaryMetrics: $summaryMetrics,
  }) {
    bucket {
      id name displayName description config sweepName
      project { id name entity { id name } }
      historyLineCount
    }
    inserted
  }
}`;

/** What the server has of a run: offsets, last rows, summary, config. */
export const RUN_RESUME_STATUS =
  `query RunResumeStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    id name entity { id name }
    bucket(name: $name, missingOk: true) {
      id name summaryMetrics displayName logLineCount historyLineCount eventsLineCount
      historyTail eventsTail config tags notes
      wandbConfig(keys: ["t"])
    }
  }
}`;

/** Signed upload URLs for run files. */
export const CREATE_RUN_FILES =
  `mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run, files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}`;
