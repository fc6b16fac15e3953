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

/** The fields of an artifact version every artifact query reads. */
const ARTIFACT_FIELDS =
  `id digest state versionIndex description metadata createdAt
      artifactType { name }
      aliases { alias }
      currentManifest { file { directUrl } }`;

/** The type of an existing collection (`null`: a new one), as W&B's client checks first. */
export const ARTIFACT_TYPE =
  `query ArtifactType($entity: String, $project: String, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) { artifactType { name } }
  }
}`;

/** Starts a version (or finds the committed one with the same digest). */
export const CREATE_ARTIFACT =
  `mutation CreateArtifact($input: CreateArtifactInput!) {
  createArtifact(input: $input) {
    artifact { id state digest artifactSequence { id latestArtifact { id } } }
  }
}`;

/** A manifest record for a pending version; with `includeUpload`, where to PUT it. */
export const CREATE_ARTIFACT_MANIFEST = `mutation CreateArtifactManifest(
  $artifactID: ID!, $baseArtifactID: ID, $name: String!, $digest: String!,
  $entityName: String!, $projectName: String!, $runName: String!,
  $manifestType: ArtifactManifestType!, $includeUpload: Boolean!,
) {
  createArtifactManifest(input: {
    artifactID: $artifactID, baseArtifactID: $baseArtifactID, name: $name,
    digest: $digest, entityName: $entityName, projectName: $projectName,
    runName: $runName, type: $manifestType,
  }) {
    artifactManifest {
      id
      file { id uploadUrl @include(if: $includeUpload) uploadHeaders @include(if: $includeUpload) }
    }
  }
}`;

/** Upload URLs for a version's files (`null`: W&B already stores that content). */
export const CREATE_ARTIFACT_FILES =
  `mutation CreateArtifactFiles($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) {
    files { edges { node { storagePath uploadUrl uploadHeaders artifact { id } } } }
  }
}`;

/** Makes a pending version a committed one (`vN` is assigned). */
export const COMMIT_ARTIFACT = `mutation CommitArtifact($artifactID: ID!) {
  commitArtifact(input: {artifactID: $artifactID}) { artifact { id digest } }
}`;

/** A version by `name:alias` or `name:vN`. */
export const ARTIFACT_BY_NAME =
  `query ArtifactByName($entity: String, $project: String, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) { ${ARTIFACT_FIELDS} }
  }
}`;

/** A version by id. */
export const ARTIFACT_BY_ID = `query ArtifactByID($id: ID!) {
  artifact(id: $id) { ${ARTIFACT_FIELDS} }
}`;

/** The versions of a collection, a page at a time. */
export const ARTIFACT_VERSIONS =
  `query ArtifactVersions($entity: String, $project: String, $name: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactCollection(name: $name) {
      artifacts(after: $cursor, first: $perPage) {
        pageInfo { hasNextPage endCursor }
        edges { node { ${ARTIFACT_FIELDS} } }
      }
    }
  }
}`;

/** Signed download URLs of a version's files, a page at a time. */
export const ARTIFACT_FILE_URLS =
  `query ArtifactFileURLs($id: ID!, $cursor: String, $perPage: Int) {
  artifact(id: $id) {
    files(after: $cursor, first: $perPage) {
      pageInfo { hasNextPage endCursor }
      edges { node { name directUrl } }
    }
  }
}`;

/** Records a run's use of a version (lineage). */
export const USE_ARTIFACT =
  `mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!, $artifactID: ID!) {
  useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName, artifactID: $artifactID}) {
    artifact { id }
  }
}`;

/** Points aliases at a version, moving them from others. */
export const ADD_ALIASES =
  `mutation AddAliases($artifactID: ID!, $aliases: [ArtifactCollectionAliasInput!]!) {
  addAliases(input: {artifactID: $artifactID, aliases: $aliases}) { success }
}`;

/** Replaces a committed version's metadata. */
export const UPDATE_ARTIFACT =
  `mutation UpdateArtifact($artifactID: ID!, $metadata: JSONString) {
  updateArtifact(input: {artifactID: $artifactID, metadata: $metadata}) {
    artifact { id metadata }
  }
}`;

/** Whether someone pressed Stop on the run's page. */
export const RUN_STOPPED_STATUS =
  `query RunStoppedStatus($entityName: String, $projectName: String, $runId: String!) {
  project(name: $projectName, entityName: $entityName) {
    run(name: $runId) { stopped }
  }
}`;

/** A run as the W&B app shows it. */
export const RUN_STATE =
  `query RunState($entity: String, $project: String, $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      id name displayName state notes tags config summaryMetrics
      historyLineCount logLineCount createdAt heartbeatAt
    }
  }
}`;

/** The runs that used a version (W&B's lineage), a page at a time. */
export const ARTIFACT_USED_BY =
  `query ArtifactUsedBy($id: ID!, $cursor: String, $perPage: Int) {
  artifact(id: $id) {
    usedBy(after: $cursor, first: $perPage) {
      pageInfo { hasNextPage endCursor }
      edges { node { name project { name } } }
    }
  }
}`;
